"""The attach protocol on the embedded search engine: concurrent attaches, expiry, closed incidents."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from soar.config import Settings
from soar.engines.search import SearchClient
from soar.incidents.grouping import claim_id
from soar.incidents.models import IncidentStatus, IncidentView
from soar.incidents.store import (
    claim_entities,
    claims_index,
    create_incident,
    ensure_indices,
    get_incident,
    list_incidents,
    save_incident,
)
from soar.response.models import Entity, EntityKind
from tests.unit.incidents.helpers import T0, alert, user

pytestmark = pytest.mark.engines
W = timedelta(hours=4)
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


async def test_concurrent_alerts_sharing_an_entity_end_in_one_incident(
    search: SearchClient, settings: Settings
) -> None:
    await ensure_indices(search, settings.namespace)
    shared = user("alice")
    alerts = [
        alert(f"{i:02x}{'0' * 8}", at=T0 + timedelta(minutes=i), entities=[user(f"other-{i}"), shared])
        for i in range(24)
    ]
    results = await asyncio.gather(*(claim_entities(search, settings.namespace, a, W, NOW) for a in alerts))
    incidents = {r.incident_id for r in results}
    assert len(incidents) == 1, incidents
    assert sum(r.created for r in results) == 1
    # The shared claim covers every alert's time: its window was extended by compare-and-set.
    doc = await search.es.get(index=claims_index(settings.namespace), id=claim_id(shared.key))
    assert doc["_source"]["incident_id"] in incidents
    assert doc["_source"]["first_at"].startswith("2026-11-23T10:00:00")
    assert doc["_source"]["last_at"].startswith("2026-11-23T10:23:00")


async def test_a_retried_attach_returns_the_same_incident(search: SearchClient, settings: Settings) -> None:
    await ensure_indices(search, settings.namespace)
    a = alert("abcdef0123")
    first = await claim_entities(search, settings.namespace, a, W, NOW)
    again = await claim_entities(search, settings.namespace, a, W, NOW)
    assert (
        (first.incident_id, first.created)
        == (again.incident_id, again.created)
        == ("INC-20261123-abcdef", True)
    )


async def test_an_expired_claim_is_taken_over_by_a_new_incident(
    search: SearchClient, settings: Settings
) -> None:
    await ensure_indices(search, settings.namespace)
    old = await claim_entities(search, settings.namespace, alert("aaaaaa0000"), W, NOW)
    inside = await claim_entities(search, settings.namespace, alert("bbbbbb0000", at=T0 + W), W, NOW)
    assert inside.incident_id == old.incident_id
    assert not inside.created
    # Four hours after the last alert (T0 + W), the entity is free again.
    late = await claim_entities(
        search, settings.namespace, alert("cccccc0000", at=T0 + 2 * W + timedelta(seconds=1)), W, NOW
    )
    assert late.created
    assert late.incident_id == "INC-20261123-cccccc"
    doc = await search.es.get(index=claims_index(settings.namespace), id=claim_id(user("alice").key))
    assert doc["_source"]["incident_id"] == late.incident_id


async def test_a_closed_incident_does_not_take_new_alerts(search: SearchClient, settings: Settings) -> None:
    await ensure_indices(search, settings.namespace)
    first = await claim_entities(search, settings.namespace, alert("dddddd0000"), W, NOW)
    view = IncidentView(incident_id=first.incident_id, opened_at=NOW, updated_at=NOW, last_activity_at=NOW)
    await create_incident(search, settings.namespace, view)
    await save_incident(search, settings.namespace, view.model_copy(update={"status": IncidentStatus.CLOSED}))
    second = await claim_entities(
        search, settings.namespace, alert("eeeeee0000", at=T0 + timedelta(minutes=1)), W, NOW
    )
    assert second.created
    assert second.incident_id != first.incident_id


async def test_an_alert_with_several_entities_joins_the_first_live_claim_and_claims_the_rest(
    search: SearchClient, settings: Settings
) -> None:
    await ensure_indices(search, settings.namespace)
    bob = await claim_entities(
        search, settings.namespace, alert("111111aaaa", entities=[user("bob")]), W, NOW
    )
    carol = await claim_entities(
        search, settings.namespace, alert("222222aaaa", entities=[user("carol")]), W, NOW
    )
    both = alert("333333aaaa", entities=[user("dave"), user("carol"), user("bob")])
    joined = await claim_entities(search, settings.namespace, both, W, NOW)
    assert joined.incident_id == carol.incident_id != bob.incident_id
    dave = await search.es.get(index=claims_index(settings.namespace), id=claim_id(user("dave").key))
    assert dave["_source"]["incident_id"] == carol.incident_id
    still_bob = await search.es.get(index=claims_index(settings.namespace), id=claim_id(user("bob").key))
    assert still_bob["_source"]["incident_id"] == bob.incident_id


async def test_an_alert_without_entities_opens_its_own_incident(
    search: SearchClient, settings: Settings
) -> None:
    await ensure_indices(search, settings.namespace)
    one = await claim_entities(search, settings.namespace, alert("444444aaaa", entities=[]), W, NOW)
    two = await claim_entities(search, settings.namespace, alert("555555aaaa", entities=[]), W, NOW)
    assert one.created
    assert two.created
    assert one.incident_id != two.incident_id


async def test_failing_payments_and_ledger_calls_share_the_service(
    search: SearchClient, settings: Settings
) -> None:
    await ensure_indices(search, settings.namespace)
    tags = ["attack.impact", "attack.t1499"]
    principal = Entity(kind=EntityKind.PRINCIPAL, value="spiffe://bank.example/ns/payments/sa/payments-api")
    envoy = alert("666666aaaa", tags=tags, service="ledger", entities=[principal])
    app = alert("777777aaaa", tags=tags, service="payments", entities=[user("customer-1")])
    results = await asyncio.gather(
        claim_entities(search, settings.namespace, envoy, W, NOW, related_services=["payments"]),
        claim_entities(search, settings.namespace, app, W, NOW),
    )
    assert results[0].incident_id == results[1].incident_id


async def test_incident_documents_round_trip_and_list_newest_first(
    search: SearchClient, settings: Settings
) -> None:
    await ensure_indices(search, settings.namespace)
    for i, status in enumerate((IncidentStatus.OPEN, IncidentStatus.CLOSED, IncidentStatus.OPEN)):
        at = NOW + timedelta(hours=i)
        view = IncidentView(
            incident_id=f"INC-{i}", opened_at=at, updated_at=at, last_activity_at=at, status=status
        )
        await save_incident(search, settings.namespace, view)
    assert [v.incident_id for v in await list_incidents(search, settings.namespace)] == [
        "INC-2",
        "INC-1",
        "INC-0",
    ]
    opened = await list_incidents(search, settings.namespace, IncidentStatus.OPEN)
    assert [v.incident_id for v in opened] == ["INC-2", "INC-0"]
    got = await get_incident(search, settings.namespace, "INC-1")
    assert got is not None
    assert got.status is IncidentStatus.CLOSED
    assert await get_incident(search, settings.namespace, "INC-9") is None
