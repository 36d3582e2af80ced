from __future__ import annotations

from datetime import timedelta

from soar.incidents.grouping import (
    Claim,
    ClaimStep,
    Relation,
    choose_incident,
    claim_id,
    claim_step,
    extended,
    grouping_entities,
    incident_id_for,
    new_claim,
    relation,
)
from soar.response.models import EntityKind
from tests.unit.incidents.helpers import T0, alert, user

W = timedelta(hours=4)


def _claim(incident: str, first_h: float = 0, last_h: float = 0, key: str = "user:keycloak:alice") -> Claim:
    return Claim(
        entity_key=key,
        incident_id=incident,
        first_at=T0 + timedelta(hours=first_h),
        last_at=T0 + timedelta(hours=last_h),
        expires_at=T0 + timedelta(hours=last_h) + W,
        updated_at=T0,
    )


def test_incident_id_is_the_alert_day_and_its_first_six_hex() -> None:
    assert incident_id_for(alert("a1b2c3d4e5")) == "INC-20261123-a1b2c3"
    assert incident_id_for(alert("a1b2c3d4e5")) == incident_id_for(alert("a1b2c3d4e5"))
    odd = incident_id_for(alert("not-hex-id"))
    assert odd.startswith("INC-20261123-")
    assert len(odd.rsplit("-", 1)[1]) == 6


def test_claim_ids_are_stable_hashes_of_the_entity_key() -> None:
    assert claim_id("user:keycloak:alice") == claim_id("user:keycloak:alice")
    assert claim_id("user:keycloak:alice") != claim_id("user:keycloak:bob")
    assert len(claim_id("x")) == 40


def test_relation_by_alert_time() -> None:
    claim = _claim("INC-A", first_h=0, last_h=1)
    assert relation(claim, T0 + timedelta(hours=5), W) is Relation.LIVE  # last + 4 h exactly
    assert relation(claim, T0 + timedelta(hours=5, seconds=1), W) is Relation.EXPIRED
    assert relation(claim, T0 - timedelta(hours=4), W) is Relation.LIVE
    assert relation(claim, T0 - timedelta(hours=4, seconds=1), W) is Relation.OLDER


def test_join_the_first_live_claim_in_key_order() -> None:
    claims = {"k1": _claim("INC-OLD", last_h=-10), "k2": _claim("INC-B"), "k3": _claim("INC-C")}
    assert choose_incident(["k1", "k2", "k3"], claims, "INC-OWN", T0, W) == "INC-B"
    assert choose_incident(["k3", "k2"], claims, "INC-OWN", T0, W) == "INC-C"


def test_no_live_claim_opens_the_alerts_own_incident() -> None:
    claims = {"k1": _claim("INC-OLD", last_h=-10)}
    assert choose_incident(["k1", "k2"], claims, "INC-OWN", T0, W) == "INC-OWN"
    assert choose_incident([], {}, "INC-OWN", T0, W) == "INC-OWN"


def test_claims_of_closed_incidents_do_not_group() -> None:
    claims = {"k1": _claim("INC-B")}
    assert choose_incident(["k1"], claims, "INC-OWN", T0, W, frozenset({"INC-B"})) == "INC-OWN"


def test_another_incidents_claim_wins_over_our_own_abandoned_one() -> None:
    # A racing attach claimed k2 for INC-B while this alert claimed k1 for its own incident.
    claims = {"k1": _claim("INC-OWN"), "k2": _claim("INC-B")}
    assert choose_incident(["k1", "k2"], claims, "INC-OWN", T0, W) == "INC-B"
    assert claim_step(claims["k1"], "INC-B", "INC-OWN", T0, W) is ClaimStep.TAKE_OVER
    # A retry of the alert that did open its incident keeps it.
    assert choose_incident(["k1"], {"k1": _claim("INC-OWN")}, "INC-OWN", T0, W) == "INC-OWN"


def test_claim_steps() -> None:
    assert claim_step(None, "INC-A", "INC-X", T0, W) is ClaimStep.CREATE
    assert claim_step(_claim("INC-A"), "INC-A", "INC-X", T0, W) is ClaimStep.EXTEND
    assert claim_step(_claim("INC-B"), "INC-A", "INC-X", T0, W) is ClaimStep.LEAVE
    assert claim_step(_claim("INC-B", last_h=-5), "INC-A", "INC-X", T0, W) is ClaimStep.TAKE_OVER
    assert claim_step(_claim("INC-B", first_h=10, last_h=10), "INC-A", "INC-X", T0, W) is ClaimStep.LEAVE
    assert claim_step(_claim("INC-B"), "INC-A", "INC-X", T0, W, frozenset({"INC-B"})) is ClaimStep.TAKE_OVER


def test_extended_widens_only_when_needed() -> None:
    claim = new_claim("k", "INC-A", T0, W, T0)
    assert extended(claim, T0, W, T0) is None
    later = extended(claim, T0 + timedelta(hours=2), W, T0)
    assert later is not None
    assert later.last_at == T0 + timedelta(hours=2)
    assert later.expires_at == T0 + timedelta(hours=6)
    earlier = extended(claim, T0 - timedelta(hours=1), W, T0)
    assert earlier is not None
    assert earlier.first_at == T0 - timedelta(hours=1)
    assert earlier.last_at == T0


def test_availability_alerts_group_by_their_services_first() -> None:
    outage = alert(tags=["attack.impact", "attack.t1499"], service="payments", entities=[user("alice")])
    keys = [e.key for e in grouping_entities(outage, ["ledger", "payments"])]
    assert keys == ["service:catalogue:payments", "service:catalogue:ledger", "user:keycloak:alice"]
    sub_technique = alert(tags=["attack.t1499.003"], service="psd2")
    assert grouping_entities(sub_technique)[0].kind is EntityKind.SERVICE


def test_other_alerts_group_by_their_own_entities_only() -> None:
    fraud = alert(tags=["attack.impact", "attack.t1565.001"], service="payments", entities=[user("bob")])
    assert [e.key for e in grouping_entities(fraud, ["payments"])] == ["user:keycloak:bob"]
    assert grouping_entities(alert(entities=[])) == []
