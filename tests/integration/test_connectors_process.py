"""Fakes in their own process (``python -m soar.testing serve``): they keep counting across soar's restarts."""

from __future__ import annotations

import json
from pathlib import Path

from soar.connectors import Responders
from soar.response.models import ActionKind, ActionOutcome, ActionSpec, Entity, EntityKind, idempotency_key
from soar.testing import connector_settings, read_mutations, spawn


def _spec(kind: ActionKind, entity: EntityKind, value: str, system: str | None = None) -> ActionSpec:
    target = Entity(kind=entity, value=value, system=system)
    key = idempotency_key("INC-P", kind, target)
    return ActionSpec(incident_id="INC-P", kind=kind, target=target, key=key, reason="r", requested_by="soar")


async def test_counters_survive_a_restarted_client(tmp_path: Path) -> None:
    seed = tmp_path / "keycloak.json"
    seed.write_text(
        json.dumps({"realm": "retail", "client_secret": "p-secret", "users": [{"username": "alice"}]})
    )
    pods = tmp_path / "kubernetes.yaml"
    pods.write_text("pods:\n  - workload: payments/api-1\n")
    action = _spec(ActionKind.DISABLE_USER, EntityKind.USER, "alice", "keycloak")
    quarantine = _spec(ActionKind.QUARANTINE_WORKLOAD, EntityKind.WORKLOAD, "payments/api-1")
    with spawn("keycloak", seed) as keycloak, spawn("kubernetes", pods) as kubernetes:
        assert keycloak.config["realm"] == "retail"
        settings = connector_settings(keycloak=keycloak, kubernetes=kubernetes)
        async with Responders(settings, tmp_path / "dry") as first_worker:
            assert (await first_worker.apply(action)).outcome is ActionOutcome.APPLIED
            assert (await first_worker.apply(quarantine)).outcome is ActionOutcome.APPLIED
        async with Responders(settings, tmp_path / "dry") as second_worker:  # a worker started again
            assert (await second_worker.apply(action)).outcome is ActionOutcome.ALREADY_APPLIED
            assert (await second_worker.apply(quarantine)).outcome is ActionOutcome.ALREADY_APPLIED
        assert await keycloak.mutations() == {("disable_user", "alice"): 1}
        counted = await read_mutations(kubernetes.url)
        assert counted[("patch_pod", "payments/api-1")] == 1
        assert sum(counted.values()) == 2
    assert keycloak.process.returncode == 0
    assert kubernetes.process.returncode == 0
