"""Reading each source's native timestamp and id back out of a raw line, for the tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from soar.telemetry.sources import Source

REQUIRED: dict[Source, tuple[str, ...]] = {
    Source.ENVOY: (
        "start_time", "method", "path", "protocol", "response_code", "response_flags", "response_code_details",
        "connection_termination_details", "upstream_transport_failure_reason", "bytes_received", "bytes_sent",
        "duration", "upstream_service_time", "x_forwarded_for", "user_agent", "request_id", "authority",
        "upstream_host", "upstream_cluster", "upstream_local_address", "downstream_local_address",
        "downstream_remote_address", "requested_server_name", "route_name", "downstream_peer_uri_san",
        "downstream_local_uri_san", "downstream_tls_version", "connection_security_policy", "source_workload",
        "source_namespace", "destination_workload", "destination_namespace", "destination_service",
    ),
    Source.KEYCLOAK: ("id", "time", "realmId"),
    Source.OKTA: (
        "uuid", "published", "eventType", "version", "severity", "displayMessage", "actor", "client", "outcome",
        "target", "transaction", "debugContext", "authenticationContext", "securityContext", "legacyEventType",
    ),
    Source.OPA: ("decision_id", "path", "input", "result", "timestamp", "labels", "bundles", "metrics", "req_id"),
    Source.KUBERNETES: (
        "kind", "apiVersion", "level", "auditID", "stage", "requestURI", "verb", "user", "sourceIPs", "userAgent",
        "objectRef", "responseStatus", "requestReceivedTimestamp", "stageTimestamp", "annotations",
    ),
    Source.APP: (
        "event_id", "ts", "level", "service", "msg", "transaction_id", "amount", "currency", "channel",
        "customer_id", "customer_country", "tpp_client_id", "consent_id", "consent_scope", "outcome",
        "error_code", "mfa", "risk_score", "approval", "user_id", "source_ip", "trace_id", "http_status",
        "latency_ms",
    ),
}  # fmt: skip
ID_KEY = {
    Source.ENVOY: "request_id",
    Source.KEYCLOAK: "id",
    Source.OKTA: "uuid",
    Source.OPA: "decision_id",
    Source.KUBERNETES: "auditID",
    Source.APP: "event_id",
}
TIME_KEY = {
    Source.ENVOY: "start_time",
    Source.OKTA: "published",
    Source.OPA: "timestamp",
    Source.KUBERNETES: "requestReceivedTimestamp",
    Source.APP: "ts",
}


def rfc3339(value: str) -> datetime:
    """Parse RFC 3339 with a Z and up to nanoseconds (fromisoformat stops at microseconds)."""
    assert value.endswith("Z"), value
    head, _, frac = value[:-1].partition(".")
    return datetime.fromisoformat(f"{head}.{(frac or '0')[:6]:0<6}+00:00")


def instant(source: Source, record: dict[str, Any]) -> datetime:
    """When a record happened, read from its native field."""
    if source is Source.KEYCLOAK:
        return datetime.fromtimestamp(record["time"] / 1000, tz=UTC)
    return rfc3339(record[TIME_KEY[source]])
