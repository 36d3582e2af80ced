"""The content pack's correlations over the small scenario: each fires on its own story, none on benign traffic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from soar.config import Settings
from soar.detect.alerts import alerts_index
from soar.detect.evaluate import native_to_document_ids
from soar.detect.run import run_once
from soar.engines.search import SearchClient
from soar.telemetry.scenario import Scenario

pytestmark = pytest.mark.engines

DETECTIONS = Path(__file__).resolve().parents[2] / "detections"
# Correlation (and new terms) rule name -> the story it is written for. The five threshold correlations of the
# pack (credential stuffing, password spraying, RBAC denials, rate limiting, ledger burst) stay below their
# thresholds in the small scenario by design (detections/README.md); the default scenario fires them all.
EXPECTED = {
    "Scripted login attempts followed by a successful customer login": "credential-stuffing",
    "Suspected password attack followed by an MFA failure from the same address": "password-spraying",
    "Payment rejected for missing MFA then executed without MFA": "payment-without-mfa",
    "OPA denied then allowed a payment for the same subject": "payment-above-limit-without-dual-approval",
    "Pod without sidecar followed by a plaintext call into the mesh": "ledger-call-without-mtls",
    "Exec into a core banking pod followed by a cluster-admin binding": "exec-into-core-banking-pod",
    "Secrets listed across many namespaces by one identity": "secrets-enumeration",
    "PSD2 third-party provider above its request rate": "tpp-consent-scope-violation",
    "Keycloak session refreshed from several addresses": "token-two-countries",
    "Okta admin resets MFA and grants admin privileges": "okta-admin-takeover",
    "Kubernetes secrets read by an identity new to them": "secrets-enumeration",
}


async def _aggregate_alerts(search: SearchClient) -> list[dict[str, Any]]:
    await search.es.indices.refresh(index=alerts_index("default"))
    response = await search.es.search(
        index=alerts_index("default"), size=10_000, source_includes=["soar.alert"]
    )
    alerts = [hit["_source"]["soar"]["alert"] for hit in response["hits"]["hits"]]
    return [a for a in alerts if "correlation" in a]


async def test_each_correlation_fires_on_its_story_and_never_on_benign_traffic(
    workflow_env: WorkflowEnvironment, search: SearchClient, settings: Settings, ingested: Scenario
) -> None:
    first = await run_once(search, workflow_env.client, settings, [DETECTIONS])
    assert first.rule_errors == []
    ids = native_to_document_ids(ingested)
    story_of = {
        ids[(source, native)]: story.id
        for story in ingested.stories
        for source, natives in story.events.items()
        for native in natives
        if (source, native) in ids
    }
    fired: dict[str, set[str]] = {}
    for alert in await _aggregate_alerts(search):
        events = {alert["source"]["id"], *(s["id"] for s in alert["correlation"]["sources"])}
        stories = {story_of[e] for e in events if e in story_of}
        assert stories, f"{alert['rule']['name']} fired on benign traffic: {alert['reason']}"
        fired.setdefault(alert["rule"]["name"], set()).update(stories)
    missing = {name: story for name, story in EXPECTED.items() if story not in fired.get(name, set())}
    assert missing == {}
    second = await run_once(search, workflow_env.client, settings, [DETECTIONS])
    assert second.totals()["alerts_created"] == 0
