"""Triage activities: enrich an alert with its entities, identities, service and related activity."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from elasticsearch import ApiError, NotFoundError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from soar.detect.routing import AlertFacts, AlertHandOver
from soar.engines.search import SearchClient, search_error
from soar.errors import SoarError
from soar.response.catalogue import Catalogue
from soar.response.entities import alert_entities, get_path
from soar.response.models import Entity, EntityKind, IdentityContext
from soar.response.policy import ResponseFile
from soar.response.settings import ApprovalPolicy
from soar.response.triage import Candidate, Enrichment

IdentityLookup = Callable[[Entity], Awaitable[IdentityContext | None]]
_IDP_SYSTEMS = frozenset({"keycloak", "okta"})


class TriageActivities:
    """The triage playbook's activities, holding the clients and the policy they need.

    Args:
        search: The search engine with the alerts and the telemetry.
        catalogue: The service catalogue.
        response: The response file (containment proposals).
        identity: Looks a user up at its identity provider; None when no IdP is reachable.
        related_window: How far around the alert related events are counted.
        approvals: The four-eyes policy containment proposals are made under.
    """

    def __init__(
        self,
        search: SearchClient,
        catalogue: Catalogue,
        response: ResponseFile,
        identity: IdentityLookup | None = None,
        related_window: timedelta = timedelta(minutes=15),
        approvals: ApprovalPolicy | None = None,
    ) -> None:
        self.approvals = approvals or ApprovalPolicy()
        self.search = search
        self.catalogue = catalogue
        self.response = response
        self.identity = identity
        self.related_window = related_window

    @activity.defn(name="triage.enrich")
    async def enrich(self, alert: AlertHandOver) -> Enrichment:
        """Read the alert and add what triage needs to decide (no external change is made)."""
        try:
            doc = await self._alert(alert)
            meta = doc["soar"]["alert"]
            # An aggregate alert (correlation, threshold...) holds only its group-by values: what the events
            # were about (service, dataset, country) is read from its first contributing event.
            context = await self._anchor(alert) if meta["rule"].get("type") else doc
        except SoarError as exc:
            raise ApplicationError(str(exc), type=type(exc).__name__) from exc
        entities = alert_entities(doc)
        found = Enrichment(
            alert_id=alert.alert_id,
            alert_index=alert.alert_index,
            rule_id=alert.rule_id,
            rule_title=alert.rule_title,
            severity=alert.severity,
            risk_score=int(meta.get("risk_score") or 0),
            tags=list(meta["rule"].get("tags") or []),
            group=str(meta["rule"].get("group") or ""),
            dataset=get_path(context, "event.dataset"),
            at=meta.get("original_time") or doc["@timestamp"],
            source_index=alert.source_index,
            source_id=alert.source_id,
            entities=entities,
            service=self.catalogue.of_event(doc) or self.catalogue.of_event(context),
            country=get_path(context, "source.geo.country_iso_code"),
            approvals=self.approvals,
        )
        found.related_events = await self._related(found)
        found.identities, found.notes = await self._identities(entities)
        found.candidates = self._candidates(found)
        return found

    async def _alert(self, alert: AlertHandOver) -> dict[str, Any]:
        try:
            response = await self.search.es.get(index=alert.alert_index, id=alert.alert_id)
        except NotFoundError:
            raise ApplicationError(f"alert {alert.alert_id} not found", type="AlertNotFound") from None
        except ApiError as exc:
            raise search_error(exc, f"reading alert {alert.alert_id}") from None
        source: dict[str, Any] = response["_source"]
        return source

    async def _anchor(self, alert: AlertHandOver) -> dict[str, Any]:
        """The first event an aggregate alert counted (empty when it is gone)."""
        try:
            response = await self.search.es.get(index=alert.source_index, id=alert.source_id)
        except NotFoundError:
            return {}
        except ApiError as exc:
            raise search_error(exc, f"reading the first event of alert {alert.alert_id}") from None
        source: dict[str, Any] = response["_source"]
        return source

    async def _related(self, found: Enrichment) -> int:
        """Events of the alert's source index near it that share one of its entities (the alert's own too)."""
        terms = [
            {"term": {e.field: e.value}} for e in found.entities if e.field and e.kind != EntityKind.WORKLOAD
        ]
        if not terms:
            return 0
        at = found.at
        window = {
            "gte": (at - self.related_window).isoformat(),
            "lte": (at + self.related_window).isoformat(),
        }
        query = {
            "bool": {
                "filter": [{"range": {"@timestamp": window}}],
                "should": terms,
                "minimum_should_match": 1,
            }
        }
        try:
            response = await self.search.es.count(index=found.source_index, query=query)
        except NotFoundError:
            return 0  # the source index is gone (retention): nothing related to count
        except ApiError as exc:
            raise search_error(exc, f"counting events related to alert {found.alert_id}") from None
        return int(response["count"])

    async def _identities(self, entities: list[Entity]) -> tuple[list[IdentityContext], list[str]]:
        identities: list[IdentityContext] = []
        notes: list[str] = []
        for entity in entities:
            if entity.kind != EntityKind.USER or entity.system not in _IDP_SYSTEMS:
                continue
            if self.identity is None:
                notes.append(f"identity of {entity.value}: no {entity.system} connector configured")
                continue
            try:
                context = await self.identity(entity)
            except SoarError as exc:
                notes.append(f"identity of {entity.value}: {exc}")
                continue
            if context is not None:
                identities.append(context)
            else:
                notes.append(f"identity of {entity.value}: not found at {entity.system}")
        return identities, notes

    def _candidates(self, found: Enrichment) -> list[Candidate]:
        facts = AlertFacts(rule_id=found.rule_id, level=found.severity, source=found.group, tags=found.tags)
        out: dict[tuple[str, str], Candidate] = {}
        for rule in self.response.containment:
            for target in rule.targets(facts, rule.max_priority, found.entities):
                key = (rule.action, target.key)
                best = out.get(key)
                if best is None or rule.max_priority > best.max_priority:
                    out[key] = Candidate(action=rule.action, target=target, max_priority=rule.max_priority)
        return list(out.values())

    def all(self) -> list[Callable[..., Any]]:
        """Every activity, for a worker."""
        return [self.enrich]
