"""The usual Envoy / Istio JSON access-log line to ECS in one straight pass; :mod:`envoy` decides any other.

A line qualifies when every key is one soar knows (no header-style alias, no unknown field) and every
value is text, absent (null, ``-``, empty) or, for the counts and durations, an integer in range. For
such a line :func:`fast_json` builds exactly the document :mod:`envoy`'s general path builds (same
fields, same order); tests hold the two against each other. Any other line gets None.
"""

from __future__ import annotations

import re
from operator import itemgetter
from typing import Any

from soar.telemetry.normalisers._util import ip_port, timestamp
from soar.telemetry.sources import SOURCES, Source

_SPEC = SOURCES[Source.ENVOY]
_MODULE, _DATASET = _SPEC.module, _SPEC.dataset
# Every key soar knows, the five integer ones first, in the order they are unpacked below.
FIELDS = tuple(
    [
        "response_code",
        "bytes_received",
        "bytes_sent",
        "duration",
        "upstream_service_time",
        "response_flags",
        "response_code_details",
        "connection_termination_details",
        "upstream_transport_failure_reason",
        "x_forwarded_for",
        "user_agent",
        "request_id",
        "authority",
        "upstream_host",
        "upstream_cluster",
        "upstream_local_address",
        "downstream_local_address",
        "downstream_remote_address",
        "requested_server_name",
        "route_name",
        "start_time",
        "method",
        "path",
        "protocol",
        "referer",
        "downstream_peer_uri_san",
        "downstream_local_uri_san",
        "downstream_tls_version",
        "downstream_peer_subject",
        "connection_security_policy",
        "rbac_policy",
        "rbac_result",
        "source_workload",
        "source_namespace",
        "destination_workload",
        "destination_namespace",
        "destination_service",
        "destination_service_name",
        "country",
    ]
)
_KNOWN = frozenset(FIELDS)
_INTEGERS = 5
_START = FIELDS.index("start_time")
_MAX_INT = 10**12  # as envoy._MAX_INT
_NONE = type(None)
# The types a line's counts may have (text: "-" or "" is absent, other text goes the general way).
_COUNTS = frozenset([int, str, _NONE])
_TEXT = frozenset([str, _NONE])
_ABSENT = {"-": None, "": None}.get  # "-" and "" are absent, as null is; any other value is kept
# Line shape (its keys in order, then its values' types) -> itemgetter of FIELDS (None: not a usual line).
_PLANS: dict[tuple[Any, ...], Any] = {}
_MAX_PLANS = 256
_UNPLANNED = object()
_RBAC_DENIED = re.compile(r"rbac_access_denied_matched_policy\[(.*)\]\Z")
_DIRECTIONS = {"inbound": "ingress", "outbound": "egress"}
_PROTOCOLS: dict[str, str] = {}  # HTTP/1.1 -> http: network.protocol of each protocol met


def fast_json(obj: dict[str, Any], raw: str) -> dict[str, Any] | None:
    """The ECS document of a usual JSON line (see the module docstring), or None for any other line.

    Raises:
        NormalisationError: ``start_time`` is not a time, as the general path says it.
    """
    # A producer writes its keys in one order and its values with the same types: the plan for that
    # shape (which also says whether every value has a usual type) is made once.
    shape = (*obj, *map(type, obj.values()))
    plan = _PLANS.get(shape, _UNPLANNED)
    if plan is _UNPLANNED:
        plan = _plan(obj, shape)
    if plan is None:  # a key soar does not know, or a value of another type
        return None
    picked = plan((*obj.values(), None))  # FIELDS' values; None for those the line lacks
    values = [*map(_ABSENT, picked, picked)]
    for number in values[:_INTEGERS]:
        if number is not None and (type(number) is not int or not 0 <= number < _MAX_INT):
            return None
    if values[_START] is None:
        return None
    return _document(values, raw)


def _plan(obj: dict[str, Any], shape: tuple[Any, ...]) -> Any:
    """What picks FIELDS' values out of the values of a line of this shape, or None for an unusual shape.

    The line's values are followed by a None, which stands for the fields it lacks. None if a key is not
    one of FIELDS, a count is neither an integer nor text (text: absent, or the general way), another
    field is neither text nor null, or there is no start time.
    """
    keys = tuple(obj)
    plan = None
    if _KNOWN.issuperset(keys):
        where = dict(zip(keys, range(len(keys)), strict=True))
        plan = itemgetter(*[where.get(name, len(keys)) for name in FIELDS])
        kinds = list(map(type, plan((*obj.values(), None))))
        if not (
            _COUNTS.issuperset(kinds[:_INTEGERS])
            and _TEXT.issuperset(kinds[_INTEGERS:])
            and kinds[_START] is str
        ):
            plan = None
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    _PLANS[shape] = plan
    return plan


def _document(values: list[Any], raw: str) -> dict[str, Any]:
    code, flags, details, cluster, start, method = (
        values[0],
        values[5],
        values[6],
        values[14],
        values[20],
        values[21],
    )
    envoy, rbac_result = _envoy(values, code, flags, details, cluster)
    denied = rbac_result == "denied" or bool(details and details.startswith("ext_authz_denied"))
    if start.isascii() and start.isdigit():  # %START_TIME(%s%3f)%: epoch milliseconds
        stamp = timestamp(int(start[:16]), "start_time")
    else:
        stamp = timestamp(start, "start_time")
    if denied or code == 403 or (code is not None and code >= 500):
        outcome = "failure"
    elif code is None or code == 0:
        outcome = "failure" if flags else "unknown"
    else:
        outcome = "success"
    event: dict[str, Any] = {
        "kind": "event",
        "module": _MODULE,
        "dataset": _DATASET,
        "category": ["network", "web"],
        "type": ["access", "denied"] if denied else ["access"],
        "action": "http-request" if method else "tcp-connection",
        "outcome": outcome,
    }
    if values[3] is not None:
        event["duration"] = values[3] * 1_000_000
    event["original"] = raw
    doc: dict[str, Any] = {"@timestamp": stamp, "event": event, "envoy": envoy}
    domain = _add_http(doc, values, code, method)
    _add_network(doc, values, envoy, domain)
    if values[27] or values[25] or values[26]:  # a TLS version or a peer or local SPIFFE id
        _add_tls(doc, values)
    return doc


def _envoy(
    values: list[Any], code: int | None, flags: str | None, details: str | None, cluster: str | None
) -> tuple[dict[str, Any], str | None]:
    """``envoy.*`` up to its ``format``, and the RBAC result."""
    envoy: dict[str, Any] = {} if code is None else {"response_code": code}
    if flags:
        envoy["response_flags"] = flags.split(",")
    if details is not None:
        envoy["response_code_details"] = details
    if values[7] is not None:
        envoy["connection_termination_details"] = values[7]
    if values[19] is not None:
        envoy["route_name"] = values[19]
    if values[18] is not None:
        envoy["requested_server_name"] = values[18]
    if cluster and "|" in cluster:
        envoy["direction"] = cluster.partition("|")[0]
    upstream = {} if values[13] is None else {"host": values[13]}
    if cluster is not None:
        upstream["cluster"] = cluster
    if values[15] is not None:
        upstream["local_address"] = values[15]
    if values[8] is not None:
        upstream["transport_failure_reason"] = values[8]
    if values[4] is not None:
        upstream["service_time"] = values[4]
    if upstream:
        envoy["upstream"] = upstream
    result = None
    if values[30] is not None or values[31] is not None or (details and details.startswith("rbac_access")):
        rbac = _rbac(values[30], values[31], details)
        if rbac:
            envoy["rbac"] = rbac
            result = rbac.get("result")
    if values[29] is not None or values[25] is not None or values[26] is not None:
        envoy["mtls"] = _mtls(values[29], values[25], values[26])
    _peers(envoy, values)
    envoy["format"] = "json"
    return envoy, result


def _peers(envoy: dict[str, Any], values: list[Any]) -> None:
    """``envoy.source`` and ``envoy.destination``: the Istio workloads on either side."""
    peers = {} if values[32] is None else {"workload": values[32]}
    if values[33] is not None:
        peers["namespace"] = values[33]
    if peers:
        envoy["source"] = peers
    peers = {} if values[34] is None else {"workload": values[34]}
    if values[35] is not None:
        peers["namespace"] = values[35]
    if values[36] is not None:
        peers["service"] = values[36]
    if peers:
        envoy["destination"] = peers


def _rbac(policy: str | None, result: str | None, details: str | None) -> dict[str, Any]:
    if details is not None and details.startswith("rbac_access_denied_matched_policy["):
        matched = _RBAC_DENIED.match(details)
        if matched:
            result = result or "denied"
            policy = policy or (matched.group(1) if matched.group(1) not in ("", "none") else None)
    rbac: dict[str, Any] = {} if policy is None else {"policy": policy}
    if result:
        rbac["result"] = result.lower()
    return rbac


def _mtls(policy: str | None, peer: str | None, local: str | None) -> dict[str, Any]:
    mtls: dict[str, Any] = {}
    if policy:
        policy = policy.lower()
        mtls["connection_security_policy"] = policy
    if peer is not None:
        mtls["peer_principal"] = peer
    if local is not None:
        mtls["local_principal"] = local
    if policy:
        mtls["mutual"] = policy == "mutual_tls"
    elif peer:
        mtls["mutual"] = True
    return mtls


def _add_http(doc: dict[str, Any], values: list[Any], code: int | None, method: str | None) -> str | None:
    """``url``, ``http``, ``user_agent``, ``service`` and ``network.protocol``; the URL's domain."""
    path, authority, protocol, received, sent = values[22], values[12], values[23], values[1], values[2]
    url, domain = url_fields(path, authority)
    if url:
        doc["url"] = url
    request: dict[str, Any] = {} if method is None else {"method": method}
    if values[11] is not None:
        request["id"] = values[11]
    if values[24] is not None:
        request["referrer"] = values[24]
    add_http_fields(doc, protocol, request, received, sent, code)
    if values[10] is not None:
        doc["user_agent"] = {"original": values[10]}
    service = values[34] or values[37] or values[36]
    if service is not None:
        doc["service"] = {"name": service}
    if protocol:
        name = _PROTOCOLS.get(protocol)
        if name is None:
            name = _PROTOCOLS[protocol] = protocol.partition("/")[0].lower()
            if len(_PROTOCOLS) > _MAX_PLANS:  # bounded, as the plans are
                _PROTOCOLS.clear()
        doc["network"] = {"protocol": name}
    return domain


def add_http_fields(
    doc: dict[str, Any],
    protocol: str | None,
    request: dict[str, Any],
    received: Any,
    sent: Any,
    code: int | None,
) -> None:
    """ECS ``http``: the version, the request (method, id, referrer as given) and response with their sizes."""
    http: dict[str, Any] = {}
    if protocol and protocol.startswith("HTTP/") and protocol[5:]:
        http["version"] = protocol[5:]
    if received is not None:
        request["bytes"], request["body"] = received, {"bytes": received}
    if request:
        http["request"] = request
    response: dict[str, Any] = {"status_code": code} if code else {}
    if sent is not None:
        response["bytes"], response["body"] = sent, {"bytes": sent}
    if response:
        http["response"] = response
    if http:
        doc["http"] = http


def url_fields(path: str | None, authority: str | None) -> tuple[dict[str, Any], str | None]:
    """``url`` from the path and authority, and its domain."""
    url: dict[str, Any] = {}
    if path:
        url["original"] = path
        path, _, query = path.partition("?")
        url["path"] = path
        if query:
            url["query"] = query
    domain = None
    if authority:
        domain, _, port = authority.rpartition(":") if ":" in authority else (authority, "", "")
        if domain:
            url["domain"] = domain
        else:
            domain = None
        if port.isascii() and port.isdigit():
            url["port"] = int(port)
    return url, domain


def _add_network(doc: dict[str, Any], values: list[Any], envoy: dict[str, Any], domain: str | None) -> None:
    forwarded = values[9]
    if forwarded and "," in forwarded:
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    else:  # one hop: no list comprehension (a function call of its own before Python 3.12)
        hops = [forwarded.strip()] if forwarded and forwarded.strip() else []
    client_ip = ip_port(hops[0])[0] if hops else None
    src_ip, src_port = ip_port(values[17])
    dst_ip, dst_port = ip_port(values[16])
    if src_ip is None:
        src_ip = client_ip
    if hops:
        envoy["x_forwarded_for"] = hops
    source: dict[str, Any] = {} if src_ip is None else {"ip": src_ip}
    if src_ip is not None and src_port is not None:
        source["port"] = src_port
    if values[38] is not None:
        source["geo"] = {"country_iso_code": values[38]}
    if source:
        doc["source"] = source
    if client_ip is not None:
        doc["client"] = {"ip": client_ip}
    destination: dict[str, Any] = {} if dst_ip is None else {"ip": dst_ip}
    if dst_ip is not None and dst_port is not None:
        destination["port"] = dst_port
    if domain is not None:
        destination["domain"] = domain
    if destination:
        doc["destination"] = destination
    direction = _DIRECTIONS.get(envoy.get("direction") or "")
    if direction is not None:
        doc.setdefault("network", {})["direction"] = direction
    related = []
    if src_ip:
        related.append(src_ip)
    if client_ip:
        related.append(client_ip)
    if dst_ip:
        related.append(dst_ip)
    if len(hops) > 1:
        related += [ip for ip in (ip_port(h)[0] for h in hops[1:]) if ip]
    if related:
        doc["related"] = {"ip": list(dict.fromkeys(related)) if len(related) > 1 else related}


def _add_tls(doc: dict[str, Any], values: list[Any]) -> None:
    version, peer, local = values[27], values[25], values[26]
    protocol, _, number = (version or "").upper().partition("V")
    tls: dict[str, Any] = {"established": True}
    if number:
        tls["version"] = number
    if protocol:
        tls["version_protocol"] = protocol.lower()
    client: dict[str, Any] = {} if values[18] is None else {"server_name": values[18]}
    if values[28] is not None:
        client["subject"] = values[28]
    if peer:
        client["x509"] = {"alternative_names": [peer]}
    if client:
        tls["client"] = client
    if local:
        tls["server"] = {"x509": {"alternative_names": [local]}}
    doc["tls"] = tls
