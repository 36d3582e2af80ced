"""Envoy/Istio JSON access-log records: ingress-gateway requests and mesh-internal calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from soar.telemetry.scenario.ids import pod_ip, port, ts_millis, uuid_like
from soar.telemetry.scenario.recorder import Context, Trail
from soar.telemetry.scenario.world import Workload
from soar.telemetry.sources import Source

PUBLIC_HOSTS = {"psd2-tpp-gateway": "psd2.bank.example", "keycloak": "login.bank.example"}
LEDGER_RBAC_POLICY = "ns[core]-policy[ledger-allow-payments]-rule[0]"
_FLAG_DETAILS = {
    "UF": "upstream_reset_before_response_started{connection_failure}",
    "URX": "upstream_reset_before_response_started{remote_reset}",
    "RL": "request_rate_limited",
    "UH": "no_healthy_upstream",
}


@dataclass(frozen=True)
class HttpCall:
    """One HTTP request as a proxy saw it; ``client_ip`` set means it came through the ingress gateway.

    ``peer`` is the caller's workload for mesh calls (``None`` for ingress or an unidentified caller);
    ``mtls`` False writes a plaintext call (no peer certificate, policy ``none``).
    """

    method: str
    path: str
    status: int
    dest: Workload
    user_agent: str
    client_ip: str | None = None
    country: str | None = None
    peer: Workload | None = None
    peer_spiffe: str | None = None
    peer_ip: str | None = None
    mtls: bool = True
    flags: str = "-"
    details: str | None = None
    rbac_denied: bool = False
    bytes_received: int = 0
    bytes_sent: int = 0
    duration_ms: int = 0


def _tls(call: HttpCall, ingress: bool) -> dict[str, Any]:
    if not call.mtls:
        return {
            "requested_server_name": "-",
            "downstream_peer_uri_san": "-",
            "downstream_local_uri_san": "-",
            "downstream_tls_version": "-",
            "connection_security_policy": "none",
        }
    peer = call.peer_spiffe or (call.peer.spiffe if call.peer else "-")
    return {
        "requested_server_name": PUBLIC_HOSTS.get(call.dest.name, "api.bank.example")
        if ingress
        else f"outbound_.8080_._.{call.dest.service}",
        "downstream_peer_uri_san": "-" if ingress else peer,
        "downstream_local_uri_san": "-" if ingress else call.dest.spiffe,
        "downstream_tls_version": "TLSv1.3",
        "connection_security_policy": "mutual_tls",
    }


def _source(call: HttpCall, ingress: bool) -> tuple[str, str, str]:
    """Source workload, namespace and address of the caller."""
    if ingress:
        return "istio-ingressgateway", "edge", str(call.client_ip)
    if call.peer is not None:
        return call.peer.name, call.peer.namespace, call.peer_ip or call.peer.ips[0]
    if call.peer_spiffe is not None:
        parts = call.peer_spiffe.split("/")
        return parts[-1], parts[-3], call.peer_ip or "10.40.0.10"
    return "unknown", "unknown", call.peer_ip or "10.40.0.10"


def envoy_record(ctx: Context, at: datetime, call: HttpCall) -> dict[str, Any]:
    """The access-log entry of ``call`` at ``at`` (already inside the window)."""
    rng, ingress = ctx.rng, call.client_ip is not None
    src_wl, src_ns, src_ip = _source(call, ingress)
    upstream = not call.rbac_denied and call.flags not in ("UH", "RL", "UF")
    dest_ip = rng.choice(call.dest.ips)
    rec: dict[str, Any] = {
        "start_time": ts_millis(at),
        "method": call.method,
        "path": call.path,
        "protocol": "HTTP/2" if ingress else "HTTP/1.1",
        "response_code": call.status,
        "response_flags": call.flags,
        "response_code_details": call.details or _details(call),
        "connection_termination_details": "-",
        "upstream_transport_failure_reason": "-",
        "bytes_received": call.bytes_received,
        "bytes_sent": call.bytes_sent or 120 + rng.getrandbits(12),
        "duration": call.duration_ms or 8 + rng.getrandbits(7),
        "upstream_service_time": max(1, (call.duration_ms or 20) - 3) if upstream else None,
        "x_forwarded_for": call.client_ip or "-",
        "user_agent": call.user_agent,
        "request_id": uuid_like(rng),
        "authority": PUBLIC_HOSTS.get(call.dest.name, "api.bank.example")
        if ingress
        else f"{call.dest.service}:8080",
        "upstream_host": f"{dest_ip}:8080" if upstream else "-",
        "upstream_cluster": f"outbound|8080||{call.dest.service}",
        "upstream_local_address": f"{pod_ip(rng)}:{port(rng)}" if upstream else "-",
        "downstream_local_address": f"{dest_ip}:8080" if not ingress else "10.16.0.5:8443",
        "downstream_remote_address": f"{src_ip}:{port(rng)}",
        "route_name": "default",
    }
    rec.update(_tls(call, ingress))
    rec.update(_mesh(call, src_wl, src_ns))
    if ingress and call.country:
        rec["country"] = call.country
    return rec


def _details(call: HttpCall) -> str:
    if call.rbac_denied:
        return "rbac_access_denied_matched_policy[none]"
    return _FLAG_DETAILS.get(call.flags, "via_upstream")


def _mesh(call: HttpCall, src_wl: str, src_ns: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if call.dest.name == "ledger":
        out["rbac_policy"] = LEDGER_RBAC_POLICY
        out["rbac_result"] = "denied" if call.rbac_denied else "allowed"
    out.update(
        source_workload=src_wl,
        source_namespace=src_ns,
        destination_workload=call.dest.name,
        destination_namespace=call.dest.namespace,
        destination_service=call.dest.service,
    )
    return out


def emit_envoy(ctx: Context, at: datetime, call: HttpCall, trail: Trail | None = None) -> str:
    """Write one access-log entry; returns its ``request_id``."""
    at = ctx.clamp(at)
    return ctx.emit(Source.ENVOY, at, envoy_record(ctx, at, call), trail)
