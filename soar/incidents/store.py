"""The incident and claim indices: templates, the concurrency-safe attach protocol, incident documents.

Attaching needs no lock service. Each entity key has one claim document, created with ``op_type: create``
(exactly one creator wins; the others get a 409 and read it) and changed only by compare-and-set on
``if_seq_no``/``if_primary_term`` (a lost race is a 409, and the attach starts over from a fresh read).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import ApiError, ConflictError, NotFoundError

from soar.engines.search import SearchClient, search_error
from soar.errors import SearchError
from soar.incidents.grouping import (
    Claim,
    ClaimStep,
    choose_incident,
    claim_id,
    claim_step,
    extended,
    grouping_entities,
    incident_id_for,
    new_claim,
)
from soar.incidents.models import IncidentStatus, IncidentView
from soar.response.models import IncidentAlert

MAX_ROUNDS = 50  # compare-and-set rounds before giving up (each lost round means another attach progressed)
_KEYWORD = {"type": "keyword"}
_DATE = {"type": "date"}


def incidents_index(namespace: str) -> str:
    """The index of incident documents."""
    return f"soar-incidents-{namespace}"


def claims_index(namespace: str) -> str:
    """The index of entity claims."""
    return f"soar-incident-claims-{namespace}"


def incidents_template() -> dict[str, Any]:
    """Index template of the incident indices: what people filter and sort on is mapped, the rest kept."""
    properties = {
        "incident_id": _KEYWORD,
        "title": {"type": "text", "fields": {"raw": _KEYWORD}},
        "status": _KEYWORD,
        "opened_at": _DATE,
        "updated_at": _DATE,
        "last_activity_at": _DATE,
        "closed_at": _DATE,
        "alerts_count": {"type": "integer"},
        "first_alert_at": _DATE,
        "last_alert_at": _DATE,
        "entities": _KEYWORD,
        "services": _KEYWORD,
        "priority": {"type": "integer"},
        "workflow_id": _KEYWORD,
        "classification": {
            "properties": {"major": {"type": "boolean"}, "classified_at": _DATE, "assessed_at": _DATE}
        },
    }
    mappings = {"dynamic": False, "properties": properties}
    return {"index_patterns": ["soar-incidents-*"], "template": {"mappings": mappings}, "priority": 200}


def claims_template() -> dict[str, Any]:
    """Index template of the claim indices."""
    properties = {
        "entity_key": _KEYWORD,
        "incident_id": _KEYWORD,
        "first_at": _DATE,
        "last_at": _DATE,
        "expires_at": _DATE,
        "updated_at": _DATE,
    }
    mappings = {"dynamic": False, "properties": properties}
    return {"index_patterns": ["soar-incident-claims-*"], "template": {"mappings": mappings}, "priority": 200}


async def ensure_indices(search: SearchClient, namespace: str) -> None:
    """Install both templates and create both indices of the namespace (another worker may race us)."""
    try:
        await search.es.indices.put_index_template(name="soar-incidents", **incidents_template())
        await search.es.indices.put_index_template(name="soar-incident-claims", **claims_template())
        for index in (incidents_index(namespace), claims_index(namespace)):
            if not await search.es.indices.exists(index=index):
                await search.es.indices.create(index=index)
    except ApiError as exc:
        if "resource_already_exists" not in str(exc):
            raise search_error(exc, "creating the incident indices") from None


@dataclass(frozen=True)
class Stored:
    """A claim as read, with the sequence number and primary term to compare-and-set on."""

    claim: Claim
    seq_no: int
    primary_term: int


@dataclass(frozen=True)
class Attached:
    """The outcome of the claim protocol."""

    incident_id: str
    created: bool
    rounds: int


async def _read_claims(search: SearchClient, namespace: str, keys: Sequence[str]) -> dict[str, Stored]:
    try:
        response = await search.es.mget(index=claims_index(namespace), ids=[claim_id(k) for k in keys])
    except ApiError as exc:
        raise search_error(exc, "reading entity claims") from None
    found: dict[str, Stored] = {}
    for doc in response["docs"]:
        if doc.get("found"):
            claim = Claim.model_validate(doc["_source"])
            found[claim.entity_key] = Stored(claim, int(doc["_seq_no"]), int(doc["_primary_term"]))
    return found


async def closed_incidents(search: SearchClient, namespace: str, ids: set[str]) -> frozenset[str]:
    """Which of these incidents are closed (their claims no longer group anything)."""
    if not ids:
        return frozenset()
    try:
        response = await search.es.mget(
            index=incidents_index(namespace), ids=sorted(ids), source_includes=["status"]
        )
    except ApiError as exc:
        raise search_error(exc, "reading incident status") from None
    return frozenset(
        d["_id"] for d in response["docs"] if d.get("found") and d["_source"].get("status") == "closed"
    )


@dataclass(frozen=True)
class _Attach:
    """One alert's attach: where claims live and what they are judged against."""

    search: SearchClient
    namespace: str
    own: str
    at: datetime
    window: timedelta
    now: datetime

    async def write(self, claim: Claim, stored: Stored | None, create: bool) -> bool:
        """Create or compare-and-set one claim; False when another attach changed it first (a 409)."""
        cas: dict[str, Any] = {}
        if stored is not None:
            cas = {"if_seq_no": stored.seq_no, "if_primary_term": stored.primary_term}
        try:
            await self.search.es.index(
                index=claims_index(self.namespace),
                id=claim_id(claim.entity_key),
                document=claim.model_dump(mode="json"),
                op_type="create" if create else "index",
                **cas,
            )
        except ConflictError:
            return False
        except ApiError as exc:
            raise search_error(exc, "writing an entity claim") from None
        return True

    async def settle(self, key: str, stored: Stored | None, target: str, closed: frozenset[str]) -> bool:
        """Bring one key's claim in line with the chosen incident; False on a lost race."""
        step = claim_step(stored.claim if stored else None, target, self.own, self.at, self.window, closed)
        fresh = new_claim(key, target, self.at, self.window, self.now)
        if step is ClaimStep.CREATE:
            return await self.write(fresh, None, create=True)
        if stored is None or step is ClaimStep.LEAVE:
            return True
        if step is ClaimStep.TAKE_OVER:
            return await self.write(fresh, stored, create=False)
        wider = extended(stored.claim, self.at, self.window, self.now)
        return wider is None or await self.write(wider, stored, create=False)


async def claim_entities(
    search: SearchClient,
    namespace: str,
    alert: IncidentAlert,
    window: timedelta,
    now: datetime,
    *,
    related_services: Sequence[str] = (),
    closed: frozenset[str] = frozenset(),
) -> Attached:
    """Run the claim protocol for one alert: join the incident of its first live claim, or open its own.

    Args:
        search: The search engine.
        namespace: The namespace of the indices.
        alert: The alert.
        window: The grouping window.
        now: The wall-clock time (recorded in the claims).
        related_services: Catalogue services of the alert's entities (availability alerts group by them).
        closed: Incidents known to be closed (their claims are taken over).

    Raises:
        SearchError: the engine failed, or the claims kept changing for ``MAX_ROUNDS`` rounds.
    """
    run = _Attach(search, namespace, incident_id_for(alert), alert.at, window, now)
    keys = [e.key for e in grouping_entities(alert, related_services)]
    for rounds in range(1, MAX_ROUNDS + 1):
        stored = await _read_claims(search, namespace, keys) if keys else {}
        others = {s.claim.incident_id for s in stored.values()} - {run.own}
        closed = closed | await closed_incidents(search, namespace, others)
        claims = {k: s.claim for k, s in stored.items()}
        target = choose_incident(keys, claims, run.own, alert.at, window, closed)
        settled = True
        for key in keys:
            if not await run.settle(key, stored.get(key), target, closed):
                settled = False
                break
        if settled:
            return Attached(incident_id=target, created=target == run.own, rounds=rounds)
    raise SearchError(f"attaching alert {alert.alert_id}: claims kept changing for {MAX_ROUNDS} rounds")


async def create_incident(search: SearchClient, namespace: str, view: IncidentView) -> None:
    """Write the first document of a new incident; a retried attach finds it there and leaves it."""
    try:
        await search.es.index(
            index=incidents_index(namespace),
            id=view.incident_id,
            document=view.model_dump(mode="json"),
            op_type="create",
            refresh="wait_for",
        )
    except ConflictError:
        return
    except ApiError as exc:
        raise search_error(exc, f"creating incident {view.incident_id}") from None


async def save_incident(search: SearchClient, namespace: str, view: IncidentView) -> None:
    """Replace an incident's document with the workflow's current view."""
    try:
        await search.es.index(
            index=incidents_index(namespace),
            id=view.incident_id,
            document=view.model_dump(mode="json"),
            refresh="wait_for",
        )
    except ApiError as exc:
        raise search_error(exc, f"saving incident {view.incident_id}") from None


async def get_incident(search: SearchClient, namespace: str, incident_id: str) -> IncidentView | None:
    """One incident's document, or None."""
    try:
        doc = await search.es.get(index=incidents_index(namespace), id=incident_id)
    except NotFoundError:
        return None
    except ApiError as exc:
        raise search_error(exc, f"reading incident {incident_id}") from None
    return IncidentView.model_validate(doc["_source"])


async def list_incidents(
    search: SearchClient, namespace: str, status: IncidentStatus | None = None, limit: int = 100
) -> list[IncidentView]:
    """The newest incidents, optionally of one status."""
    query: dict[str, Any] = {"term": {"status": status.value}} if status else {"match_all": {}}
    try:
        response = await search.es.search(
            index=incidents_index(namespace), query=query, sort=[{"opened_at": "desc"}], size=limit
        )
    except NotFoundError:
        return []
    except ApiError as exc:
        raise search_error(exc, "listing incidents") from None
    return [IncidentView.model_validate(hit["_source"]) for hit in response["hits"]["hits"]]
