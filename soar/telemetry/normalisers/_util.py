"""Small helpers shared by the normalisers: JSON lines, typed lookups, addresses, outcomes (times: ``_time``)."""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import orjson

from soar.errors import NormalisationError
from soar.telemetry.normalisers._time import (
    ENVELOPE_TIME_KEYS,
    event_time,
    iso,
    mark_time_ingested,
    parse_time,
    timestamp,
)
from soar.telemetry.normalisers._time import shorten as _short

__all__ = [
    "ENVELOPE_TIME_KEYS",
    "as_str",
    "dedupe",
    "drop_none",
    "event_time",
    "finite_number",
    "get_path",
    "ip_or_none",
    "ip_port",
    "iso",
    "mark_time_ingested",
    "outcome_from_status",
    "parse_json_object",
    "parse_time",
    "pick",
    "present",
    "prune",
    "timestamp",
    "typed",
]

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")


# Every integer orjson cannot keep exactly (below -2**63, or 2**64 and up) has at least 19 digits.
_LONG_DIGITS = re.compile(r"[0-9]{19}")


def parse_json_object(raw: str) -> dict[str, Any]:
    """Parse one raw line as a JSON object.

    Args:
        raw: the line exactly as the source wrote it.

    Returns:
        The decoded object.

    Raises:
        NormalisationError: the line is not JSON, or is JSON but not an object.
    """
    value = _decode(raw)
    if not isinstance(value, dict):
        raise NormalisationError(f"not a JSON object: got {type(value).__name__}")
    return value


def _decode(raw: str) -> Any:
    # orjson turns an integer beyond 64 bits into a float without a word (2**64 comes back as
    # 1.8446744073709552e+19), so a line with a long run of digits goes to the exact parser; so
    # does one orjson refuses (NaN, infinities, lone surrogates), and that parser words the error
    # when the line really is bad.
    if _LONG_DIGITS.search(raw) is None:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise NormalisationError(f"not a JSON object: {_short(str(exc))}") from None


def get_path(obj: Mapping[str, Any], dotted: str) -> Any:
    """Look up ``a.b.c`` in nested mappings.

    Args:
        obj: the decoded event.
        dotted: the path, keys separated by dots.

    Returns:
        The value, or None when any step is absent or not a mapping.
    """
    current: Any = obj
    for key in dotted.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
        if current is None:
            return None
    return current


def typed(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], field: str | None = None) -> Any:
    """A member of a native object that must have a given JSON type when present.

    Args:
        obj: the native object.
        key: the member name.
        kind: the accepted Python type(s) (``str``, ``dict``, ``list``, ``int``); a bool is not an int.
        field: the dotted native name reported in the error; ``key`` when not given.

    Returns:
        The value, or None when absent or null.

    Raises:
        NormalisationError: the member is present with another type.
    """
    value = obj.get(key)
    if value is None or type(value) is kind:
        return value
    if isinstance(value, kind) and not (isinstance(value, bool) and bool not in _as_tuple(kind)):
        return value
    raise NormalisationError(f"expected {_type_names(kind)}, got {type(value).__name__}", field=field or key)


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _type_names(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in _as_tuple(kind))


def ip_or_none(value: Any) -> str | None:
    """The value when it is a valid IPv4/IPv6 address (for ``ip`` fields), else None.

    Args:
        value: a native address value.

    Returns:
        The address string in canonical form, or None.
    """
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    return _canonical_ip(value)


@lru_cache(maxsize=8192)
def _canonical_ip(value: str) -> str | None:
    # Addresses repeat a lot in telemetry; ipaddress parsing is the slow part of a normaliser.
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def ip_port(value: str | None) -> tuple[str | None, int | None]:
    """IP and port of ``1.2.3.4:80``, ``[::1]:80``, ``tcp://1.2.3.4:80`` or a bare IP.

    Args:
        value: the native address, or None.

    Returns:
        The canonical IP and the port (None when absent or invalid); (None, None) for non-IPs.
    """
    if value is None:
        return None, None
    found = _IP_PORTS.get(value)
    if found is None:
        found = _ip_port(value)
        if len(value) <= 64:  # service addresses repeat a lot; the bound keeps the cache's memory bounded
            if len(_IP_PORTS) >= _CACHED:
                _IP_PORTS.clear()
            _IP_PORTS[value] = found
    return found


def _ip_port(value: str) -> tuple[str | None, int | None]:
    host, port = value.rpartition("://")[2], None
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif host.count(":") == 1:
        host, _, port = host.partition(":")
    ip = _HOST_IPS.get(host, _UNSEEN)  # client ports are random: the host is what repeats
    if ip is _UNSEEN:
        ip = _host_ip(host)
        if len(host) <= 64:
            if len(_HOST_IPS) >= _CACHED:
                _HOST_IPS.clear()
            _HOST_IPS[host] = ip
    if ip is None:
        return None, None
    if port and port.isascii() and port.isdigit() and int(port[:6]) <= 65535:
        return ip, int(port)
    return ip, None


_CACHED = 16384  # addresses (and hosts) remembered, each at most 64 characters
_IP_PORTS: dict[str, tuple[str | None, int | None]] = {}
_HOST_IPS: dict[str, Any] = {}
_UNSEEN = object()


def _host_ip(host: str) -> str | None:
    """The canonical IP, or None; IPv4 by regex because ``ipaddress`` dominates the hot path."""
    if _IPV4.fullmatch(host):
        return host
    if ":" not in host:
        return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def pick(obj: Mapping[str, Any], names: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """The members of ``obj`` among ``names`` that are not None, renamed.

    Args:
        obj: the native object.
        names: (native name, output name) pairs, in output order.

    Returns:
        The new dict, possibly empty.
    """
    return {out: obj[name] for name, out in names if obj.get(name) is not None}


def present(**values: Any) -> dict[str, Any]:
    """The keyword arguments that are not None, in order.

    Args:
        **values: candidate members.

    Returns:
        The new dict, possibly empty.
    """
    return {k: v for k, v in values.items() if v is not None}


def prune(d: dict[str, Any]) -> dict[str, Any]:
    """Drop None values and empty dicts recursively; unlike ``drop_none``, lists are left alone.

    Args:
        d: a native object.

    Returns:
        A new dict without None values or empty dicts.
    """
    out: dict[str, Any] = {}
    for key, value in d.items():
        if value is None:
            continue
        if type(value) is dict:
            value = prune(value)
            if not value:
                continue
        out[key] = value
    return out


def drop_none(d: dict[str, Any]) -> dict[str, Any]:
    """Remove None values and empty dicts, recursively (lists are walked too).

    Args:
        d: the document being built.

    Returns:
        A new dict without None values or empty dicts.
    """
    out: dict[str, Any] = {}
    for key, value in d.items():
        if value is None:
            continue
        kind = type(value)
        if kind is dict:
            value = drop_none(value)
            if not value:
                continue
        elif kind is list:
            value = _clean_list(value)
        out[key] = value
    return out


def _clean_list(values: list[Any]) -> list[Any]:
    out = []
    for value in values:
        if value is None:
            continue
        kind = type(value)
        if kind is dict:
            value = drop_none(value)
            if not value:
                continue
        elif kind is list:
            value = _clean_list(value)
        out.append(value)
    return out


def as_str(value: Any) -> str | None:
    """A scalar as a string (for keyword fields); None for absent values, objects and lists.

    Args:
        value: a native value of any JSON type.

    Returns:
        The string, or None.
    """
    if type(value) is str:
        return value
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def finite_number(value: Any, field: str) -> int | float | None:
    """A JSON number kept only when finite and below 1e15 in size (bools are not numbers).

    Args:
        value: the native value; None means absent.
        field: the field named in the error.

    Returns:
        The number, or None when absent.

    Raises:
        NormalisationError: for any other value.
    """
    if value is None:
        return None
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) < 1e15
    ):
        return value
    raise NormalisationError(f"expected a finite number, got {str(value)[:40]!r}", field=field)


def dedupe(values: Iterable[Any]) -> list[str]:
    """Unique non-empty strings in first-seen order (for ``related.*``).

    Args:
        values: candidates; non-strings and empty strings are skipped.

    Returns:
        The unique strings.
    """
    seen: dict[str, None] = {}
    for value in values:
        if isinstance(value, str) and value:
            seen.setdefault(value, None)
    return list(seen)


def outcome_from_status(code: Any) -> str:
    """ECS ``event.outcome`` from an HTTP status code: below 400 success, else failure.

    Args:
        code: the status code; anything that is not an integer gives ``unknown``.

    Returns:
        ``success``, ``failure`` or ``unknown``.
    """
    if isinstance(code, bool) or not isinstance(code, int):
        return "unknown"
    return "success" if code < 400 else "failure"
