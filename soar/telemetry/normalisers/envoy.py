"""Envoy / Istio access logs (default text formats and JSON) to ECS, with the mesh facts under ``envoy.*``."""

from __future__ import annotations

import ipaddress
import math
import re
from datetime import datetime
from typing import Any

from soar.errors import NormalisationError
from soar.telemetry.normalisers._util import iso, parse_json_object, parse_time
from soar.telemetry.sources import SOURCES, Source

_SPEC = SOURCES[Source.ENVOY]


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Fields after the quoted request line, per text layout, keyed by the number of tokens after the timestamp.
_ENVOY_DEFAULT = _names(
    "response_code response_flags bytes_received bytes_sent duration upstream_service_time "
    "x_forwarded_for user_agent request_id authority upstream_host "
)
_ISTIO_LEGACY = _names(
    "response_code response_flags upstream_transport_failure_reason bytes_received bytes_sent "
    "duration upstream_service_time x_forwarded_for user_agent request_id authority upstream_host "
    "upstream_cluster upstream_local_address downstream_local_address downstream_remote_address "
    "requested_server_name "
)
_ISTIO = _names(
    "response_code response_flags response_code_details connection_termination_details "
    "upstream_transport_failure_reason bytes_received bytes_sent duration upstream_service_time "
    "x_forwarded_for user_agent request_id authority upstream_host upstream_cluster "
    "upstream_local_address downstream_local_address downstream_remote_address "
    "requested_server_name route_name "
)
_LAYOUTS = {
    1 + len(_ENVOY_DEFAULT): ("envoy-text", _ENVOY_DEFAULT),
    1 + len(_ISTIO_LEGACY): ("istio-text-legacy", _ISTIO_LEGACY),
    1 + len(_ISTIO): ("istio-text", _ISTIO),
}
_CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
_TOKEN = re.compile(r'"([^"]*)"|(\S+)')
_TEXT_HEAD = re.compile(r"\[([^\]]+)\]\s+(\".*)\Z", re.S)
_APP_LOG = re.compile(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\]\[\d+\]\[\w+\]")
_RBAC_DENIED = re.compile(r"rbac_access_denied_matched_policy\[(.*)\]\Z")

# Header-style names some producers (Envoy Gateway's default JSON, Istio's JSON) use for soar's keys.
_ALIASES = {
    ":authority": "authority",
    "user-agent": "user_agent",
    "x-forwarded-for": "x_forwarded_for",
    "x-request-id": "request_id",
    "x-envoy-origin-path": "path",
    "x-envoy-original-path": "path",
    "x-envoy-upstream-service-time": "upstream_service_time",
    ":method": "method",
    ":path": "path",
    "referrer": "referer",
}
_EXTRA_KEYS = """start_time method path protocol referer downstream_peer_uri_san downstream_local_uri_san
downstream_tls_version downstream_peer_subject connection_security_policy rbac_policy rbac_result source_workload
source_namespace destination_workload destination_namespace destination_service destination_service_name country"""
_KNOWN = frozenset([*_ISTIO, *_EXTRA_KEYS.split()])
_INT_KEYS = frozenset(["response_code", "bytes_received", "bytes_sent", "duration", "upstream_service_time"])
_ABSENT = (None, "-", "")
_MAX_INT = 10**12  # bytes or milliseconds beyond this are corrupt, and would overflow event.duration (ns)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")


def normalise(raw: str) -> dict[str, Any]:
    """Normalise one Envoy or Istio access-log line (default text format or JSON) to an ECS document.

    Args:
        raw: the line exactly as Envoy wrote it.

    Returns:
        The ECS document; ``event.original`` is ``raw`` unchanged.

    Raises:
        NormalisationError: the line is not an access log of a known shape; ``field`` names the culprit.
    """
    text = raw.strip()
    if text.startswith("{"):
        fields, fmt = _from_json(parse_json_object(text)), "json"
    else:
        fields, fmt = _from_text(text)
    return _document(_clean(fields), raw, fmt)


def _from_json(obj: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in obj.items():
        name = _ALIASES.get(key, key)
        if name not in fields or fields[name] in _ABSENT:
            fields[name] = value
    return fields


def _from_text(text: str) -> tuple[dict[str, Any], str]:
    head = _TEXT_HEAD.match(text)
    if head is None:
        if _APP_LOG.match(text):
            raise NormalisationError("an Envoy application (component) log line, not an access log")
        raise NormalisationError("not an Envoy access log: neither JSON nor '[START_TIME] \"REQUEST\" ...'")
    tokens = [q if b is None or b == "" else b for q, b in _TOKEN.findall(head.group(2))]
    layout = _LAYOUTS.get(len(tokens))
    if layout is None:
        raise NormalisationError(
            f"{len(tokens)} fields after the timestamp; expected 12 (Envoy default), 18 or 21 (Istio default)",
            field="format",
        )
    fmt, names = layout
    fields = dict(zip(names, tokens[1:], strict=True))
    fields["start_time"] = head.group(1)
    request = tokens[0].split(" ")
    if len(request) != 3:
        raise NormalisationError(
            f"request line is not 'METHOD PATH PROTOCOL': {tokens[0][:80]!r}", field="request"
        )
    fields["method"], fields["path"], fields["protocol"] = request
    return fields, fmt


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    """Drop absent values (``-``, empty, null) and type the known fields once, so the rest is plain dict work."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None or value == "-" or value == "":
            continue
        if key in _INT_KEYS:
            value = _to_int(value, key)
        elif key in _KNOWN and type(value) is not str:
            value = _to_str(value, key)
        out[key] = value
    return out


def _to_str(value: Any, name: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise NormalisationError(f"expected a string, got {type(value).__name__}", field=name)


def _to_int(value: Any, name: str) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and math.isfinite(value):
        number = int(value)
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value[:20])  # a longer digit string is out of range anyway
    if number is None or not 0 <= number < _MAX_INT:
        raise NormalisationError(f"expected a count or milliseconds, got {str(value)[:40]!r}", field=name)
    return number


def _address(value: str | None) -> tuple[str | None, int | None]:
    """IP and port of ``1.2.3.4:80``, ``[::1]:80``, ``tcp://1.2.3.4:80`` or a bare IP; None for non-IPs."""
    if value is None:
        return None, None
    host, port = value.rpartition("://")[2], None
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif host.count(":") == 1:
        host, _, port = host.partition(":")
    ip = _ip(host)
    if ip is None:
        return None, None
    if port and port.isascii() and port.isdigit() and int(port[:6]) <= 65535:
        return ip, int(port)
    return ip, None


def _ip(host: str) -> str | None:
    """The canonical IP, or None; IPv4 by regex because ``ipaddress`` dominates the hot path."""
    if _IPV4.fullmatch(host):
        return host
    if ":" not in host:
        return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _prune(d: dict[str, Any]) -> dict[str, Any]:
    """Drop None values and empty dicts (lists are left alone): a faster ``drop_none`` for the hot path."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        if value is None:
            continue
        if type(value) is dict:
            value = _prune(value)
            if not value:
                continue
        out[key] = value
    return out


def _document(fields: dict[str, Any], raw: str, fmt: str) -> dict[str, Any]:
    if "start_time" not in fields:
        raise NormalisationError('missing: the access-log format needs "%START_TIME%"', field="start_time")
    method = fields.get("method")
    code = fields.get("response_code")
    duration = fields.get("duration")
    envoy, denied = _envoy_namespace(fields, code)
    envoy["format"] = fmt
    doc: dict[str, Any] = {
        "@timestamp": _timestamp(fields["start_time"]),
        "event": {
            "kind": "event",
            "module": _SPEC.module,
            "dataset": _SPEC.dataset,
            "category": ["network", "web"],
            "type": ["access", "denied"] if denied else ["access"],
            "action": "http-request" if method else "tcp-connection",
            "outcome": _outcome(code, denied, envoy.get("response_flags")),
            "duration": duration * 1_000_000 if duration is not None else None,
            "original": raw,
        },
        "envoy": envoy,
    }
    _add_http(doc, fields, method, code)
    _add_network(doc, fields, envoy)
    _add_tls(doc, fields)
    return _prune(doc)


def _timestamp(value: str) -> str:
    """``@timestamp`` from ``%START_TIME%``; Envoy's default form is already ECS's, so skip re-formatting it."""
    if len(value) == 24 and _CANONICAL_TIME.fullmatch(value):
        try:
            datetime.fromisoformat(value)  # validates the calendar (no 30 February) at C speed
            return value
        except ValueError:
            pass  # parse_time reports it, naming the field
    if value.isascii() and value.isdigit():  # %START_TIME(%s%3f)%: epoch milliseconds
        return iso(parse_time(int(value[:16]), "start_time"))
    return iso(parse_time(value, "start_time"))


def _outcome(code: int | None, denied: bool, flags: list[str] | None) -> str:
    if denied or code == 403 or (code is not None and code >= 500):
        return "failure"
    if code is None or code == 0:
        return "failure" if flags else "unknown"
    return "success"


def _envoy_namespace(fields: dict[str, Any], code: int | None) -> tuple[dict[str, Any], bool]:
    flags = fields.get("response_flags")
    details = fields.get("response_code_details")
    rbac = _rbac(fields, details)
    cluster = fields.get("upstream_cluster")
    envoy: dict[str, Any] = {
        "response_code": code,
        "response_flags": flags.split(",") if flags else None,
        "response_code_details": details,
        "connection_termination_details": fields.get("connection_termination_details"),
        "route_name": fields.get("route_name"),
        "requested_server_name": fields.get("requested_server_name"),
        "direction": cluster.partition("|")[0] if cluster and "|" in cluster else None,
        "upstream": {
            "host": fields.get("upstream_host"),
            "cluster": cluster,
            "local_address": fields.get("upstream_local_address"),
            "transport_failure_reason": fields.get("upstream_transport_failure_reason"),
            "service_time": fields.get("upstream_service_time"),
        },
        "rbac": rbac,
        "mtls": _mtls(fields),
        "source": {"workload": fields.get("source_workload"), "namespace": fields.get("source_namespace")},
        "destination": {
            "workload": fields.get("destination_workload"),
            "namespace": fields.get("destination_namespace"),
            "service": fields.get("destination_service"),
        },
    }
    for key, value in fields.items():
        if key not in _KNOWN and key not in envoy:
            envoy[key] = value
    details_denied = bool(details and details.startswith("ext_authz_denied"))
    return envoy, rbac["result"] == "denied" or details_denied


def _rbac(fields: dict[str, Any], details: str | None) -> dict[str, Any]:
    """The RBAC policy and result, logged explicitly or read from an enforced denial's response details."""
    policy, result = fields.get("rbac_policy"), fields.get("rbac_result")
    matched = _RBAC_DENIED.match(details or "")
    if matched:
        result = result or "denied"
        policy = policy or (matched.group(1) if matched.group(1) not in ("", "none") else None)
    return {"policy": policy, "result": result.lower() if result else None}


def _mtls(fields: dict[str, Any]) -> dict[str, Any]:
    policy = fields.get("connection_security_policy")
    peer = fields.get("downstream_peer_uri_san")
    return {
        "connection_security_policy": policy.lower() if policy else None,
        "peer_principal": peer,
        "local_principal": fields.get("downstream_local_uri_san"),
        "mutual": (policy.lower() == "mutual_tls") if policy else (True if peer else None),
    }


def _add_http(doc: dict[str, Any], fields: dict[str, Any], method: str | None, code: int | None) -> None:
    path = fields.get("path")
    authority = fields.get("authority")
    protocol = fields.get("protocol")
    domain, _, port = (authority or "").rpartition(":") if ":" in (authority or "") else (authority, "", "")
    received, sent = fields.get("bytes_received"), fields.get("bytes_sent")
    doc["url"] = {
        "original": path,
        "path": path.partition("?")[0] if path else None,
        "query": path.partition("?")[2] or None if path else None,
        "domain": domain or None,
        "port": int(port) if port.isascii() and port.isdigit() else None,
    }
    doc["http"] = {
        "version": protocol.partition("/")[2] or None if protocol and protocol.startswith("HTTP/") else None,
        "request": {
            "method": method,
            "id": fields.get("request_id"),
            "referrer": fields.get("referer"),
            "bytes": received,
            "body": {"bytes": received},
        },
        "response": {"status_code": code or None, "bytes": sent, "body": {"bytes": sent}},
    }
    doc["user_agent"] = {"original": fields.get("user_agent")}
    service = fields.get("destination_workload") or fields.get("destination_service_name")
    doc["service"] = {"name": service or fields.get("destination_service")}
    if protocol:
        doc["network"] = {"protocol": protocol.partition("/")[0].lower()}


def _add_network(doc: dict[str, Any], fields: dict[str, Any], envoy: dict[str, Any]) -> None:
    hops = [h.strip() for h in (fields.get("x_forwarded_for") or "").split(",") if h.strip()]
    client_ip = _address(hops[0])[0] if hops else None
    src_ip, src_port = _address(fields.get("downstream_remote_address"))
    dst_ip, dst_port = _address(fields.get("downstream_local_address"))
    if src_ip is None:
        # Envoy's plain default format has no peer address: the first X-Forwarded-For hop is all there is.
        src_ip = client_ip
    envoy["x_forwarded_for"] = hops or None
    doc["source"] = {
        "ip": src_ip,
        "port": src_port,
        "geo": {"country_iso_code": fields.get("country")},
    }
    doc["client"] = {"ip": client_ip}
    doc["destination"] = {"ip": dst_ip, "port": dst_port, "domain": doc["url"]["domain"]}
    direction = envoy.get("direction")
    network = doc.setdefault("network", {})
    network["direction"] = {"inbound": "ingress", "outbound": "egress"}.get(direction or "")
    related = [ip for ip in (src_ip, client_ip, dst_ip) if ip]
    related += [ip for ip in (_address(h)[0] for h in hops[1:]) if ip]
    doc["related"] = {"ip": list(dict.fromkeys(related)) or None}


def _add_tls(doc: dict[str, Any], fields: dict[str, Any]) -> None:
    version = fields.get("downstream_tls_version")
    peer = fields.get("downstream_peer_uri_san")
    local = fields.get("downstream_local_uri_san")
    sni = fields.get("requested_server_name")
    if not (version or peer or local):
        return
    protocol, _, number = (version or "").upper().partition("V")
    doc["tls"] = {
        "established": True,
        "version": number or None,
        "version_protocol": protocol.lower() or None,
        "client": {
            "server_name": sni,
            "subject": fields.get("downstream_peer_subject"),
            "x509": {"alternative_names": [peer] if peer else None},
        },
        "server": {"x509": {"alternative_names": [local] if local else None}},
    }
