"""Source-native field names SigmaHQ rules use, mapped to the ECS fields of soar's indices (data only)."""

from __future__ import annotations

import re

from soar.telemetry.sources import Source

# Kubernetes audit: the normaliser keeps the native audit event under ``kubernetes.audit`` (camelCase
# kept), so every native name maps to ``kubernetes.audit.<name>``; these are the short names some
# rules use for nested members.
KUBERNETES: dict[str, str] = {
    "apiGroup": "kubernetes.audit.objectRef.apiGroup",
    "resource": "kubernetes.audit.objectRef.resource",
    "subresource": "kubernetes.audit.objectRef.subresource",
    "namespace": "kubernetes.audit.objectRef.namespace",
    "name": "kubernetes.audit.objectRef.name",
    "username": "kubernetes.audit.user.username",
    "hostPath": "kubernetes.audit.requestObject.spec.volumes.hostPath.path",
    "capabilities": "kubernetes.audit.requestObject.spec.containers.securityContext.capabilities.add",
    "privileged": "kubernetes.audit.requestObject.spec.containers.securityContext.privileged",
}
KUBERNETES_PREFIX = "kubernetes.audit."

# Okta System Log: names as Elastic's Okta integration writes them (snake_case under ``okta.``).
OKTA: dict[str, str] = {
    "eventType": "okta.event_type",
    "legacyEventType": "okta.legacy_event_type",
    "displayMessage": "okta.display_message",
    "severity": "okta.severity",
    "uuid": "okta.uuid",
    "actor.alternateId": "okta.actor.alternate_id",
    "actor.displayName": "okta.actor.display_name",
    "actor.id": "okta.actor.id",
    "actor.type": "okta.actor.type",
    "outcome.result": "okta.outcome.result",
    "outcome.reason": "okta.outcome.reason",
    "client.ipAddress": "source.ip",
    "client.userAgent.rawUserAgent": "user_agent.original",
    "client.zone": "okta.client.zone",
    "client.device": "okta.client.device",
    "authenticationContext.authenticationProvider": ("okta.authentication_context.authentication_provider"),
    "authenticationContext.credentialType": "okta.authentication_context.credential_type",
    "transaction.id": "okta.transaction.id",
    "transaction.type": "okta.transaction.type",
}
# Native prefixes -> ECS prefix and whether member names become snake_case. ``debugData`` and
# ``target`` are ``flattened`` fields that keep the native (camelCase) keys, as the normaliser does.
OKTA_PREFIXES: dict[str, tuple[str, bool]] = {
    "debugContext.debugData.": ("okta.debug_context.debug_data.", False),
    "target.": ("okta.target.", False),
    "securityContext.": ("okta.security_context.", True),
    "authenticationContext.": ("okta.authentication_context.", True),
    "client.": ("okta.client.", True),
    "actor.": ("okta.actor.", True),
    "outcome.": ("okta.outcome.", True),
    "transaction.": ("okta.transaction.", True),
    "request.": ("okta.request.", True),
}

# Web server and proxy logs (W3C extended log names) -> Envoy access logs in ECS.
WEB: dict[str, str] = {
    "cs-uri-query": "url.query",
    "c-uri-query": "url.query",
    "cs-uri-stem": "url.path",
    "c-uri-stem": "url.path",
    "c-uri-extension": "url.extension",
    "cs-uri": "url.original",
    "c-uri": "url.original",
    "cs-method": "http.request.method",
    "sc-status": "http.response.status_code",
    "c-useragent": "user_agent.original",
    "cs-user-agent": "user_agent.original",
    "cs-host": "url.domain",
    "r-dns": "url.domain",
    "c-ip": "source.ip",
    "src_ip": "source.ip",
    "s-ip": "destination.ip",
    "dst_ip": "destination.ip",
    "cs-referrer": "http.request.referrer",
    "cs-referer": "http.request.referrer",
    "cs-cookie": "http.request.headers.cookie",  # not in the Envoy template: validation reports it
    "cs-content-type": "http.request.mime_type",
    "sc-content-type": "http.response.mime_type",
    "cs-version": "http.version",
    "cs-bytes": "http.request.bytes",
    "sc-bytes": "http.response.bytes",
    "cs-username": "user.name",
    "c-uri-authority": "url.domain",
}

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def snake_case(name: str) -> str:
    """``requestUri`` -> ``request_uri``, applied to each dotted part."""
    return _CAMEL.sub(r"_\1", name).lower()


def map_field(source: Source, field: str) -> str:
    """The ECS field a source-native (SigmaHQ) field name stands for; ECS names pass unchanged.

    Args:
        source: The telemetry source the rule runs on.
        field: The field name as written in the rule.

    Returns:
        The field name in soar's index mappings.
    """
    if source is Source.KUBERNETES:
        if field in KUBERNETES:
            return KUBERNETES[field]
        if field.startswith(KUBERNETES_PREFIX) or not _is_native_kubernetes(field):
            return field
        return KUBERNETES_PREFIX + field
    if source is Source.OKTA:
        if field in OKTA:
            return OKTA[field]
        for native, (ecs, snake) in OKTA_PREFIXES.items():
            if field.startswith(native):
                rest = field[len(native) :]
                return ecs + (snake_case(rest) if snake else rest)
        return field
    if source is Source.ENVOY:
        return WEB.get(field, field)
    return field


# Top-level members of an audit.k8s.io Event; other names are taken to be ECS already.
_KUBERNETES_NATIVE = frozenset(
    {
        "kind",
        "apiVersion",
        "level",
        "auditID",
        "stage",
        "requestURI",
        "verb",
        "user",
        "impersonatedUser",
        "sourceIPs",
        "userAgent",
        "objectRef",
        "responseStatus",
        "requestObject",
        "responseObject",
        "requestReceivedTimestamp",
        "stageTimestamp",
        "annotations",
    }
)


def _is_native_kubernetes(field: str) -> bool:
    return field.split(".", 1)[0] in _KUBERNETES_NATIVE


# Field-less (keyword) Sigma values search ``message`` (phrase) and these keyword fields (contains).
KEYWORD_SEARCH_FIELDS: dict[Source, tuple[str, ...]] = {
    Source.ENVOY: ("url.original", "user_agent.original", "http.request.referrer"),
    Source.KUBERNETES: ("kubernetes.audit.requestURI", "kubernetes.audit.userAgent"),
    Source.OKTA: ("okta.display_message", "okta.event_type", "user_agent.original"),
    Source.KEYCLOAK: ("event.action", "event.reason"),
    Source.OPA: ("event.action", "event.reason"),
    Source.APP: ("event.action", "event.reason"),
}
