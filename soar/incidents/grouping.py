"""Grouping alerts into incidents: incident ids, grouping keys and the claim decisions (pure; no I/O).

An entity is claimed by one incident at a time through a claim document (id: hash of the entity key). A
claim is *live* for an alert whose time lies within the grouping window of the claim's alerts; an alert
after the window finds it *expired* (a new incident takes the entity over), an alert long before it
belongs to an older episode and leaves the claim alone. Times are the alerts' event times, so replayed
telemetry is judged by the same windows as the live run; the outcome still depends on the order in which
alerts attach where one alert links two incidents (they are not merged: docs/incidents.md, section 1).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from soar.response.models import Entity, EntityKind, IncidentAlert

_HEX6 = re.compile(r"^[0-9a-f]{6}")
# Alerts about availability (ATT&CK T1498/T1499 denial of service, sub-techniques too) are grouped by the
# services they touch first: the failures of one service are one incident whichever customers they hit.
_AVAILABILITY_TAG = re.compile(r"^attack\.t149[89](\.\d{3})?$")


class Relation(StrEnum):
    """How an alert's time relates to a claim."""

    LIVE = "live"  # within the window: join the claim's incident
    EXPIRED = "expired"  # after the window: a new incident takes the entity over
    OLDER = "older"  # before the claim's first alert by more than the window: leave the claim alone


class Claim(BaseModel):
    """An entity claimed by an incident, with the alert times that keep the claim live."""

    model_config = ConfigDict(frozen=True)
    entity_key: str
    incident_id: str
    first_at: AwareDatetime
    last_at: AwareDatetime
    expires_at: AwareDatetime
    updated_at: AwareDatetime


def incident_id_for(alert: IncidentAlert) -> str:
    """The id of the incident an alert opens: ``INC-<yyyymmdd>-<6 hex>`` from its time and id.

    The same alert gives the same id, so a retried attach returns the incident it opened before.
    """
    day = alert.at.astimezone(UTC).strftime("%Y%m%d")
    match = _HEX6.match(alert.alert_id.lower())
    suffix = match.group(0) if match else hashlib.sha256(alert.alert_id.encode()).hexdigest()[:6]
    return f"INC-{day}-{suffix}"


def claim_id(entity_key: str) -> str:
    """The claim document id of an entity key."""
    return hashlib.sha256(entity_key.encode()).hexdigest()[:40]


def is_availability(alert: IncidentAlert) -> bool:
    """Whether the alert's rule is about availability (its tags name ATT&CK T1498 or T1499)."""
    return any(_AVAILABILITY_TAG.match(tag.lower()) for tag in alert.tags)


def grouping_entities(alert: IncidentAlert, related_services: Iterable[str] = ()) -> list[Entity]:
    """The entities an alert is grouped by, in the order their claims are tried.

    An availability alert is grouped by the catalogue services it touches first (the service is what
    fails): its own service, then the services of its workloads and principals (``related_services``,
    looked up in the catalogue by the caller; a failed call from payments to the ledger touches both).
    Its own entities follow.

    Args:
        alert: The alert.
        related_services: Catalogue services its entities belong to.
    """
    entities = list(alert.entities)
    if is_availability(alert):
        names = [n for n in (alert.service, *related_services) if n]
        services = [Entity(kind=EntityKind.SERVICE, value=n, system="catalogue") for n in names]
        entities = services + entities
    return list({e.key: e for e in entities}.values())


def relation(claim: Claim, at: datetime, window: timedelta) -> Relation:
    """How an alert at ``at`` relates to ``claim`` under the grouping window."""
    if at > claim.last_at + window:
        return Relation.EXPIRED
    if at < claim.first_at - window:
        return Relation.OLDER
    return Relation.LIVE


def new_claim(entity_key: str, incident_id: str, at: datetime, window: timedelta, now: datetime) -> Claim:
    """A fresh claim of an entity by an incident, from one alert."""
    return Claim(
        entity_key=entity_key,
        incident_id=incident_id,
        first_at=at,
        last_at=at,
        expires_at=at + window,
        updated_at=now,
    )


def extended(claim: Claim, at: datetime, window: timedelta, now: datetime) -> Claim | None:
    """The claim widened to cover an alert at ``at``; None when it already covers it (nothing to write)."""
    first, last = min(claim.first_at, at), max(claim.last_at, at)
    if first == claim.first_at and last == claim.last_at:
        return None
    return claim.model_copy(
        update={"first_at": first, "last_at": last, "expires_at": last + window, "updated_at": now}
    )


def choose_incident(
    keys: Sequence[str],
    claims: Mapping[str, Claim],
    own: str,
    at: datetime,
    window: timedelta,
    closed: frozenset[str] = frozenset(),
) -> str:
    """The incident an alert joins: the incident of its first live claim, else the one it opens (``own``).

    Claims already pointing at ``own`` (written by an earlier round of this alert's attach) count last: when
    another attach claimed one of the alert's entities meanwhile, the alert joins that incident instead, so
    two racing alerts end in one incident.

    Args:
        keys: The alert's grouping keys, in order.
        claims: The current claims of those keys (absent: never claimed).
        own: The id of the incident the alert would open.
        at: The alert's time.
        window: The grouping window.
        closed: Incidents known to be closed: their claims count as expired.
    """
    for key in keys:
        claim = claims.get(key)
        if claim is None or claim.incident_id in closed or claim.incident_id == own:
            continue
        if relation(claim, at, window) is Relation.LIVE:
            return claim.incident_id
    return own


class ClaimStep(StrEnum):
    """What to do with one key's claim once the incident is chosen."""

    CREATE = "create"  # no claim: create it (op_type create; a 409 means someone was faster)
    EXTEND = "extend"  # ours and live: widen it if needed (compare-and-set)
    TAKE_OVER = (
        "take_over"  # expired, closed, or our abandoned one: point it at our incident (compare-and-set)
    )
    LEAVE = "leave"  # another live incident's, or an older episode's: not ours to touch


def claim_step(
    claim: Claim | None,
    target: str,
    own: str,
    at: datetime,
    window: timedelta,
    closed: frozenset[str] = frozenset(),
) -> ClaimStep:
    """The step for one key's claim, given the incident the alert joins (``target``) and the one it would open."""
    if claim is None:
        return ClaimStep.CREATE
    if claim.incident_id in closed or (claim.incident_id == own != target):
        return ClaimStep.TAKE_OVER
    rel = relation(claim, at, window)
    if claim.incident_id == target:
        return ClaimStep.EXTEND if rel is not Relation.OLDER else ClaimStep.LEAVE
    return ClaimStep.TAKE_OVER if rel is Relation.EXPIRED else ClaimStep.LEAVE
