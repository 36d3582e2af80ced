"""Explicit field types for the rules tests: goldens do not move when the real templates change."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from soar.telemetry.sources import Source

RULES = Path(__file__).resolve().parents[3] / "fixtures" / "rules"
GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "rules"

_COMMON = {
    "@timestamp": "date",
    "message": "match_only_text",
    "event.action": "keyword",
    "event.reason": "keyword",
    "source.ip": "ip",
    "source.address": "keyword",
    "destination.ip": "ip",
    "destination.port": "long",
    "user.name": "keyword",
    "user_agent.original": "keyword",
    "user_agent.original.text": "match_only_text",
}
FIELD_TYPES: dict[Source, dict[str, str]] = {
    Source.ENVOY: {
        **_COMMON,
        "http.request.method": "keyword",
        "http.request.referrer": "keyword",
        "http.response.status_code": "long",
        "http.response.bytes": "long",
        "url.original": "wildcard",
        "url.path": "keyword",
        "url.query": "keyword",
        "url.extension": "keyword",
        "url.domain": "keyword",
        "tls.version": "keyword",
        "tls.established": "boolean",
        "envoy.rbac.policy": "keyword",
    },
    Source.KUBERNETES: {
        **_COMMON,
        "kubernetes.audit.verb": "keyword",
        "kubernetes.audit.objectRef.resource": "keyword",
        "kubernetes.audit.objectRef.apiGroup": "keyword",
        "kubernetes.audit.user.username": "keyword",
        "kubernetes.audit.responseStatus.code": "long",
        "kubernetes.audit.requestObject": "flattened",
        "kubernetes.audit.requestURI": "keyword",
        "kubernetes.audit.userAgent": "keyword",
    },
    Source.OKTA: {
        **_COMMON,
        "okta.event_type": "keyword",
        "okta.outcome.result": "keyword",
        "okta.display_message": "keyword",
        "okta.actor.alternate_id": "keyword",
        "okta.security_context.is_proxy": "boolean",
        "okta.debug_context.debug_data": "flattened",
    },
    Source.KEYCLOAK: {**_COMMON},
    Source.OPA: {**_COMMON},
    Source.APP: {**_COMMON},
}


def field_types(source: Source) -> Mapping[str, str]:
    """The test double of ``soar.telemetry.templates.field_types``."""
    return FIELD_TYPES[source]


@pytest.fixture
def types() -> object:
    return field_types
