"""Small helpers shared by the normalisers: JSON lines, timestamps, dotted lookups, outcomes."""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

import orjson

from soar.errors import NormalisationError

__all__ = [
    "as_str",
    "dedupe",
    "drop_none",
    "finite_number",
    "get_path",
    "ip_or_none",
    "ip_port",
    "iso",
    "outcome_from_status",
    "parse_json_object",
    "parse_time",
    "pick",
    "present",
    "prune",
    "timestamp",
    "typed",
]

# RFC 3339: date, 'T' or space, time, any number of fractional digits, then 'Z', an offset, or no zone (UTC).
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?\Z"
)
# Epoch milliseconds outside this range are certainly wrong (before 1970 or after year 9999).
_MAX_EPOCH_MS = 253_402_300_799_999
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The ECS form itself (what ``iso`` writes): kept as it is once the calendar is checked.
# RFC 3339 UTC with at least milliseconds (OPA and Kubernetes write micro- or nanoseconds): cut, not parsed.
_ZULU_MS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3,}Z")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")


def iso(dt: datetime) -> str:
    """RFC 3339 UTC with millisecond precision and a ``Z``, as ``soar.telemetry.ecs.format_timestamp``.

    The same text, produced with ``isoformat`` (several times faster than ``strftime``, and zero-pads
    years before 1000).

    Args:
        dt: an aware datetime.

    Returns:
        For example ``2025-03-04T08:01:12.345Z``.
    """
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_json_object(raw: str) -> dict[str, Any]:
    """Parse one raw line as a JSON object.

    Args:
        raw: the line exactly as the source wrote it.

    Returns:
        The decoded object.

    Raises:
        NormalisationError: the line is not JSON, or is JSON but not an object.
    """
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        # orjson is strict (no NaN, no integers beyond 64 bits, no lone surrogates); the standard
        # parser decides those few lines, and words the error when the line really is bad.
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise NormalisationError(f"not a JSON object: {_short(str(exc))}") from None
    if not isinstance(value, dict):
        raise NormalisationError(f"not a JSON object: got {type(value).__name__}")
    return value


def parse_time(value: Any, field: str) -> datetime:
    """Parse a timestamp into an aware UTC datetime.

    Accepts RFC 3339 strings with any fractional precision (nanoseconds are truncated to
    microseconds) ending in ``Z`` or an offset, or with no zone at all (read as UTC, the convention of
    exporters such as Panther), and int/float epoch milliseconds.

    Args:
        value: the native timestamp value.
        field: the native field name, reported in the error.

    Returns:
        The instant as an aware datetime in UTC.

    Raises:
        NormalisationError: the value is absent or not a timestamp; ``field`` names it.
    """
    if isinstance(value, str):
        return _parse_rfc3339(value, field)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or not 0 <= value <= _MAX_EPOCH_MS:
            raise NormalisationError(f"epoch milliseconds out of range: {value!r}", field=field)
        return _EPOCH + timedelta(milliseconds=value)
    if value is None:
        raise NormalisationError("timestamp missing", field=field)
    raise NormalisationError(f"not a timestamp: {type(value).__name__}", field=field)


def _parse_rfc3339(text: str, field: str) -> datetime:
    match = _RFC3339.match(text.strip())
    if match is None:
        raise NormalisationError(f"not an RFC 3339 timestamp: {_short(text)!r}", field=field)
    year, month, day, hour, minute, second, frac, zulu, sign, off_h, off_m = match.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    tz: timezone = UTC
    # No zone at all ("2022-11-29 22:40:02.903", as exporters such as Panther write): UTC, by convention.
    if not zulu and sign:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        if offset >= timedelta(hours=24):
            raise NormalisationError(f"bad UTC offset in {_short(text)!r}", field=field)
        tz = timezone(-offset if sign == "-" else offset)
    try:
        parsed = datetime(
            int(year), int(month), int(day), int(hour), int(minute), min(int(second), 59), micro, tzinfo=tz
        )
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise NormalisationError(f"bad timestamp {_short(text)!r}: {exc}", field=field) from None


def timestamp(value: Any, field: str) -> str:
    """``iso(parse_time(value, field))``, with a fast path for RFC 3339 UTC text of millisecond precision or finer.

    Args:
        value: the native timestamp value (RFC 3339 text or epoch milliseconds).
        field: the native field name, reported in the error.

    Returns:
        For example ``2025-03-04T08:01:12.345Z``.

    Raises:
        NormalisationError: the value is absent or not a timestamp; ``field`` names it.
    """
    if type(value) is str and _ZULU_MS.fullmatch(value):
        try:
            datetime.fromisoformat(value[:23])  # validates the calendar (no 30 February) at C speed
            return value[:23] + "Z"  # iso() truncates to milliseconds too
        except ValueError:
            pass  # a leap second or a bad date: parse_time decides, naming the field
    return iso(parse_time(value, field))


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
    # Service addresses repeat a lot; the bound on the length keeps the cache's memory bounded too.
    return _cached_ip_port(value) if len(value) <= 64 else _ip_port(value)


def _ip_port(value: str) -> tuple[str | None, int | None]:
    host, port = value.rpartition("://")[2], None
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif host.count(":") == 1:
        host, _, port = host.partition(":")
    ip = _host_ip(host)
    if ip is None:
        return None, None
    if port and port.isascii() and port.isdigit() and int(port[:6]) <= 65535:
        return ip, int(port)
    return ip, None


_cached_ip_port = lru_cache(maxsize=16384)(_ip_port)


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


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


# Values some exporters put where a time was removed or never known: not a time, so treated as absent.
_NOT_A_TIME = frozenset({"", "-", "redacted", "null", "none", "n/a"})
# Where shippers put the time of the record they wrap: Cloud Logging, Azure Monitor, Panther.
ENVELOPE_TIME_KEYS = ("timestamp", "time", "p_event_time")


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in _NOT_A_TIME)


def event_time(value: Any, field: str, envelope: Mapping[str, Any]) -> tuple[str, bool]:
    """The ECS ``@timestamp``: the event's own time, else its shipper's envelope time, else now.

    Nothing is lost for want of a time: an event with none is placed at ingest time, and the second
    element of the result says so (see :func:`mark_time_ingested`). A time that is present but malformed
    is still an error.

    Args:
        value: the event's own time field.
        field: that field's name, for errors.
        envelope: the record as shipped, for its envelope time keys.

    Returns:
        The timestamp in ECS form and whether it is the ingest time.

    Raises:
        NormalisationError: a time is present but not a timestamp.
    """
    if not _absent(value):
        return timestamp(value, field), False
    for key in ENVELOPE_TIME_KEYS:
        if not _absent(envelope.get(key)):
            return timestamp(envelope[key], key), False
    return iso(datetime.now(UTC)), True


def mark_time_ingested(doc: dict[str, Any]) -> None:
    """Flag a document whose ``@timestamp`` is the ingest time, not the event's own."""
    doc["tags"] = [*doc.get("tags", []), "timestamp_missing"]
    doc.setdefault("soar", {})["timestamp_source"] = "ingested"
