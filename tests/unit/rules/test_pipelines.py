"""Logsource routing and SigmaHQ field names -> ECS, per source."""

from __future__ import annotations

import pytest
from sigma.rule import SigmaLogSource

from soar.rules.fieldmaps import map_field
from soar.rules.pipelines import resolve_source
from soar.telemetry.sources import Source


@pytest.mark.parametrize(
    ("logsource", "source"),
    [
        ({"product": "kubernetes", "service": "audit"}, Source.KUBERNETES),
        ({"product": "kubernetes", "service": "audit", "category": "application"}, Source.KUBERNETES),
        ({"product": "okta", "service": "okta"}, Source.OKTA),
        ({"category": "webserver"}, Source.ENVOY),
        ({"category": "webserver", "product": "apache"}, Source.ENVOY),
        ({"category": "proxy"}, Source.ENVOY),
        ({"product": "envoy", "service": "access"}, Source.ENVOY),
        ({"product": "keycloak", "service": "event"}, Source.KEYCLOAK),
        ({"product": "opa", "service": "decision"}, Source.OPA),
        ({"product": "payments", "service": "transaction"}, Source.APP),
        ({"product": "windows", "category": "process_creation"}, None),
        ({"product": "aws", "service": "cloudtrail"}, None),
    ],
)
def test_logsource_routes_to_source(logsource: dict[str, str], source: Source | None) -> None:
    assert resolve_source(SigmaLogSource.from_dict(logsource)) is source


@pytest.mark.parametrize(
    ("source", "native", "ecs"),
    [
        (Source.KUBERNETES, "verb", "kubernetes.audit.verb"),
        (Source.KUBERNETES, "objectRef.resource", "kubernetes.audit.objectRef.resource"),
        (Source.KUBERNETES, "objectRef.subresource", "kubernetes.audit.objectRef.subresource"),
        (Source.KUBERNETES, "apiGroup", "kubernetes.audit.objectRef.apiGroup"),
        (Source.KUBERNETES, "hostPath", "kubernetes.audit.requestObject.spec.volumes.hostPath.path"),
        (
            Source.KUBERNETES,
            "capabilities",
            "kubernetes.audit.requestObject.spec.containers.securityContext.capabilities.add",
        ),
        (Source.KUBERNETES, "responseStatus.code", "kubernetes.audit.responseStatus.code"),
        (Source.KUBERNETES, "user.username", "kubernetes.audit.user.username"),
        (Source.KUBERNETES, "requestURI", "kubernetes.audit.requestURI"),
        (Source.KUBERNETES, "source.ip", "source.ip"),
        (Source.KUBERNETES, "kubernetes.audit.verb", "kubernetes.audit.verb"),
        (Source.OKTA, "eventType", "okta.event_type"),
        (Source.OKTA, "actor.alternateId", "okta.actor.alternate_id"),
        (Source.OKTA, "actor.displayName", "okta.actor.display_name"),
        (Source.OKTA, "outcome.reason", "okta.outcome.reason"),
        (Source.OKTA, "client.ipAddress", "source.ip"),
        (Source.OKTA, "displayMessage", "okta.display_message"),
        (Source.OKTA, "securityContext.isProxy", "okta.security_context.is_proxy"),
        (Source.OKTA, "debugContext.debugData.requestUri", "okta.debug_context.debug_data.requestUri"),
        (Source.OKTA, "target.displayName", "okta.target.displayName"),
        (Source.OKTA, "user.name", "user.name"),
        (Source.ENVOY, "cs-uri-query", "url.query"),
        (Source.ENVOY, "cs-uri-stem", "url.path"),
        (Source.ENVOY, "cs-method", "http.request.method"),
        (Source.ENVOY, "sc-status", "http.response.status_code"),
        (Source.ENVOY, "c-uri", "url.original"),
        (Source.ENVOY, "c-useragent", "user_agent.original"),
        (Source.ENVOY, "cs-user-agent", "user_agent.original"),
        (Source.ENVOY, "cs-host", "url.domain"),
        (Source.ENVOY, "c-ip", "source.ip"),
        (Source.ENVOY, "cs-referrer", "http.request.referrer"),
        (Source.ENVOY, "c-uri-extension", "url.extension"),
        (Source.ENVOY, "dst_ip", "destination.ip"),
        (Source.KEYCLOAK, "event.action", "event.action"),
    ],
)
def test_sigmahq_field_maps_to_ecs(source: Source, native: str, ecs: str) -> None:
    assert map_field(source, native) == ecs
