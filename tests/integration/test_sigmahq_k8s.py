"""SigmaHQ's Kubernetes-audit rules, unchanged, on real audit events (Falco's minikube traces) in the engine.

Expected matches were checked by hand against the trace files (see each comment): the rule's
conditions read against the event's verb, objectRef and requestObject.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from soar.engines.search import SearchClient
from soar.rules.compile import compile_rules
from soar.rules.match import event_index, search_lines
from soar.telemetry.normalise import Normalised, normalise_lines
from soar.telemetry.sources import Source

pytestmark = [pytest.mark.corpora, pytest.mark.engines]

EXPECTED = {
    # verb create, objectRef.resource pods, a requestObject volume with hostPath (/etc); the
    # "unsensitive" trace is a *get* of a pod whose hostPath is only in the responseObject: no match.
    "kubernetes_audit_hostpath_mount": {
        "create_nginx_pod_sensitive_mount",
        "create_nginx_pod_sensitive_mount_2nd_container",
    },
    # objectRef.subresource exec on a pods create.
    "kubernetes_audit_exec_into_container": {"exec_pod"},
    # kube-system only: create_pod_kube_public_namespace must not match.
    "kubernetes_audit_pod_in_system_namespace": {"create_pod_kube_system_namespace"},
    "kubernetes_audit_deployment_deleted": {"delete_deployment"},
    # rbac.authorization.k8s.io clusterrolebindings created or deleted.
    "kubernetes_audit_rolebinding_modification": {
        "attach_cluster_admin_role",
        "create_clusterrolebinding",
        "delete_clusterrolebinding",
    },
    "kubernetes_audit_serviceaccount_creation": {
        "create_serviceaccount",
        "create_serviceaccount_kube_public_namespace",
        "create_serviceaccount_kube_system_namespace",
    },
    "kubernetes_audit_secrets_modified_or_deleted": {
        "create_kube_system_secret",
        "create_secret",
        "create_service_account_token_secret",
        "delete_secret",
    },
    # privileged pods in these traces set securityContext.privileged, never capabilities.add.
    "kubernetes_audit_privileged_pod_creation": set(),
    # every trace has a 2xx response code.
    "kubernetes_audit_unauthorized_unauthenticated_actions": set(),
}


def _objects(text: str) -> list[Any]:
    # Some trace files hold several JSON objects back to back.
    decoder, at, out = json.JSONDecoder(), 0, []
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        found, at = decoder.raw_decode(text, at)
        out.append(found)
    return out


def _traces(corpora: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    lines, names = [], []
    for path in sorted((corpora / "telemetry" / "kubernetes_audit" / "falco_trace_files").glob("*.json")):
        for found in _objects(path.read_text("utf-8")):
            lines.append(json.dumps(found))
            names.append(path.stem)
    events = [
        (i.line, i.document) for i in normalise_lines(Source.KUBERNETES, lines) if isinstance(i, Normalised)
    ]
    assert len(events) == len(lines) - 1  # fal_01_003 is a deliberately malformed record
    return events, names


async def test_sigmahq_kubernetes_rules_match_the_right_audit_events(
    search: SearchClient, corpora: Path
) -> None:
    compiled = compile_rules([corpora / "sigmahq" / "rules" / "application" / "kubernetes" / "audit"])
    assert not compiled.errors, [str(e) for e in compiled.errors]
    events, names = _traces(corpora)
    matched: dict[str, set[str]] = {}
    async with event_index(search, Source.KUBERNETES, events) as index:
        for rule in compiled.rules:
            hits = await search_lines(search, index, rule.query, len(events))
            matched[Path(rule.path).stem] = {names[hit.line - 1] for hit in hits}
    assert {name: matched[name] for name in EXPECTED} == EXPECTED
