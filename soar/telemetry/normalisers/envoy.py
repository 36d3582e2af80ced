"""Envoy / Istio access logs (default text formats and JSON) to ECS, with the mesh facts under ``envoy.*``."""

from __future__ import annotations

import math
import re
from typing import Any

from soar.errors import NormalisationError
from soar.telemetry.normalisers._util import (
    ip_port,
    parse_json_object,
    pick,
    prune,
    timestamp,
)
from soar.telemetry.normalisers.envoy_json import add_http_fields, fast_json, url_fields
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


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    """``native:name`` (or ``name``) tokens as (native name, ECS/namespace name) pairs for ``pick``."""
    return tuple((n, e or n) for n, _, e in (t.partition(":") for t in text.split()))


# Sub-objects copied from the cleaned fields when present.
_UPSTREAM = _pairs(
    "upstream_host:host upstream_cluster:cluster upstream_local_address:local_address "
    "upstream_transport_failure_reason:transport_failure_reason upstream_service_time:service_time"
)
_PLAIN_KEYS = "response_code_details connection_termination_details route_name requested_server_name"
_PLAIN = _pairs(_PLAIN_KEYS)
_PEERS = _pairs("source_workload:workload source_namespace:namespace")
_DESTINATION = _pairs(
    "destination_workload:workload destination_namespace:namespace destination_service:service"
)
# Keys of ``envoy.*`` soar always considers its own: native fields of these names are not copied.
_NAMESPACE_KEYS = frozenset(
    _names(f"response_code response_flags direction upstream rbac mtls {_PLAIN_KEYS}")
)
_NAMESPACE_KEYS |= {"source", "destination"}
_REQUEST = _pairs("request_id:id referer:referrer")
_TLS_CLIENT = _pairs("requested_server_name:server_name downstream_peer_subject:subject")
_DIRECTIONS = {"inbound": "ingress", "outbound": "egress"}


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
        obj = parse_json_object(text)
        doc = fast_json(obj, raw)  # the usual line, in one pass; None for any other
        if doc is not None:
            return doc
        fields = _clean(obj if _ALIASES.keys().isdisjoint(obj.keys()) else _from_json(obj))
        return _document(fields, raw, "json")
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
        kind = type(value)
        if kind is str:
            if value == "-" or not value:
                continue
            if key in _INT_KEYS:
                value = _to_int(value, key)
        elif value is None:
            continue
        elif key in _INT_KEYS:
            if kind is not int or not 0 <= value < _MAX_INT:
                value = _to_int(value, key)
        elif key in _KNOWN:
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


def _document(fields: dict[str, Any], raw: str, fmt: str) -> dict[str, Any]:
    if "start_time" not in fields:
        raise NormalisationError('missing: the access-log format needs "%START_TIME%"', field="start_time")
    method = fields.get("method")
    code = fields.get("response_code")
    duration = fields.get("duration")
    envoy, denied, hollow = _envoy_namespace(fields, code)
    envoy["format"] = fmt
    stamp = _start_time(fields["start_time"])
    event: dict[str, Any] = {
        "kind": "event",
        "module": _SPEC.module,
        "dataset": _SPEC.dataset,
        "category": ["network", "web"],
        "type": ["access", "denied"] if denied else ["access"],
        "action": "http-request" if method else "tcp-connection",
        "outcome": _outcome(code, denied, envoy.get("response_flags")),
    }
    if duration is not None:
        event["duration"] = duration * 1_000_000
    event["original"] = raw
    doc: dict[str, Any] = {"@timestamp": stamp, "event": event, "envoy": envoy}
    _add_http(doc, fields, method, code)
    _add_network(doc, fields, envoy)
    _add_tls(doc, fields)
    if hollow:
        doc["envoy"] = {k: v for k, v in envoy.items() if v != {}}
    return doc


def _start_time(value: str) -> str:
    """``@timestamp`` from ``%START_TIME%``: RFC 3339, or epoch milliseconds as ``%START_TIME(%s%3f)%``."""
    if value.isascii() and value.isdigit():
        return timestamp(int(value[:16]), "start_time")
    return timestamp(value, "start_time")


def _outcome(code: int | None, denied: bool, flags: list[str] | None) -> str:
    if denied or code == 403 or (code is not None and code >= 500):
        return "failure"
    if code is None or code == 0:
        return "failure" if flags else "unknown"
    return "success"


def _envoy_namespace(fields: dict[str, Any], code: int | None) -> tuple[dict[str, Any], bool, bool]:
    flags = fields.get("response_flags")
    details = fields.get("response_code_details")
    cluster = fields.get("upstream_cluster")
    envoy: dict[str, Any] = {} if code is None else {"response_code": code}
    if flags:
        envoy["response_flags"] = flags.split(",")
    envoy.update(pick(fields, _PLAIN))
    if cluster and "|" in cluster:
        envoy["direction"] = cluster.partition("|")[0]
    for name, part in (
        ("upstream", {out: fields[name] for name, out in _UPSTREAM if name in fields}),
        ("rbac", _rbac(fields, details)),
        ("mtls", _mtls(fields)),
        ("source", {out: fields[name] for name, out in _PEERS if name in fields}),
        ("destination", {out: fields[name] for name, out in _DESTINATION if name in fields}),
    ):
        if part:
            envoy[name] = part
    hollow = False  # a native object that was all nulls, dropped once ``format`` is in place
    if not fields.keys() <= _KNOWN:  # native fields soar has no name for are kept as they are
        for key, value in fields.items():
            if key not in _KNOWN and key not in _NAMESPACE_KEYS:
                if type(value) is dict:
                    value = prune(value)
                    hollow = hollow or not value
                envoy[key] = value
    details_denied = bool(details and details.startswith("ext_authz_denied"))
    return envoy, envoy.get("rbac", {}).get("result") == "denied" or details_denied, hollow


def _rbac(fields: dict[str, Any], details: str | None) -> dict[str, Any]:
    """The RBAC policy and result, logged explicitly or read from an enforced denial's response details."""
    policy, result = fields.get("rbac_policy"), fields.get("rbac_result")
    if details is not None and details.startswith("rbac_access_denied_matched_policy["):
        matched = _RBAC_DENIED.match(details)
        if matched:
            result = result or "denied"
            policy = policy or (matched.group(1) if matched.group(1) not in ("", "none") else None)
    rbac: dict[str, Any] = {} if policy is None else {"policy": policy}
    if result:
        rbac["result"] = result.lower()
    return rbac


def _mtls(fields: dict[str, Any]) -> dict[str, Any]:
    policy = fields.get("connection_security_policy")
    peer = fields.get("downstream_peer_uri_san")
    local = fields.get("downstream_local_uri_san")
    mtls: dict[str, Any] = {}
    if policy:
        mtls["connection_security_policy"] = policy.lower()
    if peer is not None:
        mtls["peer_principal"] = peer
    if local is not None:
        mtls["local_principal"] = local
    if policy:
        mtls["mutual"] = policy.lower() == "mutual_tls"
    elif peer:
        mtls["mutual"] = True
    return mtls


def _add_http(doc: dict[str, Any], fields: dict[str, Any], method: str | None, code: int | None) -> None:
    get = fields.get
    path, authority, protocol = get("path"), get("authority"), get("protocol")
    url, _ = url_fields(path, authority)
    if url:
        doc["url"] = url
    request: dict[str, Any] = {} if method is None else {"method": method}
    request.update(pick(fields, _REQUEST))
    add_http_fields(doc, protocol, request, get("bytes_received"), get("bytes_sent"), code)
    _add_service(doc, fields, protocol)


def _add_service(doc: dict[str, Any], fields: dict[str, Any], protocol: str | None) -> None:
    get = fields.get
    if "user_agent" in fields:
        doc["user_agent"] = {"original": fields["user_agent"]}
    service = get("destination_workload") or get("destination_service_name") or get("destination_service")
    if service is not None:
        doc["service"] = {"name": service}
    if protocol:
        doc["network"] = {"protocol": protocol.partition("/")[0].lower()}


def _add_network(doc: dict[str, Any], fields: dict[str, Any], envoy: dict[str, Any]) -> None:
    forwarded = fields.get("x_forwarded_for")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()] if forwarded else []
    client_ip = ip_port(hops[0])[0] if hops else None
    src_ip, src_port = ip_port(fields.get("downstream_remote_address"))
    dst_ip, dst_port = ip_port(fields.get("downstream_local_address"))
    if src_ip is None:
        # Envoy's plain default format has no peer address: the first X-Forwarded-For hop is all there is.
        src_ip = client_ip
    if hops:
        envoy["x_forwarded_for"] = hops
    source = _endpoint(src_ip, src_port)
    if "country" in fields:
        source["geo"] = {"country_iso_code": fields["country"]}
    domain = doc["url"].get("domain") if "url" in doc else None
    for name, part in (
        ("source", source),
        ("client", {} if client_ip is None else {"ip": client_ip}),
        (
            "destination",
            _endpoint(dst_ip, dst_port)
            if domain is None
            else {**_endpoint(dst_ip, dst_port), "domain": domain},
        ),
    ):
        if part:
            doc[name] = part
    direction = _DIRECTIONS.get(envoy.get("direction") or "")
    if direction is not None:
        doc.setdefault("network", {})["direction"] = direction
    related = [ip for ip in (src_ip, client_ip, dst_ip) if ip]
    related += [ip for ip in (ip_port(h)[0] for h in hops[1:]) if ip]
    if related:
        doc["related"] = {"ip": list(dict.fromkeys(related))}


def _endpoint(ip: str | None, port: int | None) -> dict[str, Any]:
    if ip is None:
        return {}
    return {"ip": ip} if port is None else {"ip": ip, "port": port}


def _add_tls(doc: dict[str, Any], fields: dict[str, Any]) -> None:
    version = fields.get("downstream_tls_version")
    peer = fields.get("downstream_peer_uri_san")
    local = fields.get("downstream_local_uri_san")
    if not (version or peer or local):
        return
    protocol, _, number = (version or "").upper().partition("V")
    tls: dict[str, Any] = {"established": True}
    if number:
        tls["version"] = number
    if protocol:
        tls["version_protocol"] = protocol.lower()
    client = pick(fields, _TLS_CLIENT)
    if peer:
        client["x509"] = {"alternative_names": [peer]}
    if client:
        tls["client"] = client
    if local:
        tls["server"] = {"x509": {"alternative_names": [local]}}
    doc["tls"] = tls
