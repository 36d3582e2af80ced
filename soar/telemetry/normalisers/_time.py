"""Times for the normalisers: RFC 3339 and epoch parsing, the ECS form, and events that carry no time."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from soar.errors import NormalisationError

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
# What follows a valid day in a _ZULU_MS time that fromisoformat accepts: a time of day (no leap second).
_CLOCK_MS = re.compile(r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{3,}Z")
# The days (``YYYY-MM-DD``) of _ZULU_MS times already found valid: events of one day share them.
_GOOD_DAYS: set[str] = set()
_EPOCH_DAYS: dict[int, str] = {}  # days since the epoch -> YYYY-MM-DD
_MAX_DAYS = 4096


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
        raise NormalisationError(f"not an RFC 3339 timestamp: {shorten(text)!r}", field=field)
    year, month, day, hour, minute, second, frac, zulu, sign, off_h, off_m = match.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    tz: timezone = UTC
    # No zone at all ("2022-11-29 22:40:02.903", as exporters such as Panther write): UTC, by convention.
    if not zulu and sign:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        if offset >= timedelta(hours=24):
            raise NormalisationError(f"bad UTC offset in {shorten(text)!r}", field=field)
        tz = timezone(-offset if sign == "-" else offset)
    try:
        parsed = datetime(
            int(year), int(month), int(day), int(hour), int(minute), min(int(second), 59), micro, tzinfo=tz
        )
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise NormalisationError(f"bad timestamp {shorten(text)!r}: {exc}", field=field) from None


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
    if type(value) is int and 0 <= value <= _MAX_EPOCH_MS:  # epoch milliseconds: UTC has no leap seconds
        seconds, millis = divmod(value, 1000)
        days, second = divmod(seconds, 86400)
        day = _EPOCH_DAYS.get(days)
        if day is None:
            day = (_EPOCH + timedelta(days=days)).date().isoformat()
            if len(_EPOCH_DAYS) >= _MAX_DAYS:
                _EPOCH_DAYS.clear()
            _EPOCH_DAYS[days] = day
        hour, second = divmod(second, 3600)
        minute, second = divmod(second, 60)
        return f"{day}T{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"
    if type(value) is str:
        if value[:10] in _GOOD_DAYS and _CLOCK_MS.fullmatch(value, 10):  # a known day: the clock by pattern
            return value if len(value) == 24 else value[:23] + "Z"  # 24 characters: already the ECS form
        if _ZULU_MS.fullmatch(value):
            try:
                datetime.fromisoformat(value[:23])  # validates the calendar (no 30 February) at C speed
            except ValueError:
                pass  # a leap second or a bad date: parse_time decides, naming the field
            else:
                if len(_GOOD_DAYS) >= _MAX_DAYS:
                    _GOOD_DAYS.clear()
                _GOOD_DAYS.add(value[:10])
                return value[:23] + "Z"  # iso() truncates to milliseconds too
    return iso(parse_time(value, field))


# Values some exporters put where a time was removed or never known: not a time, so treated as absent.
_NOT_A_TIME = frozenset({"", "-", "redacted", "null", "none", "n/a"})
# Where shippers put the time of the record they wrap: Cloud Logging, Azure Monitor, Panther.
ENVELOPE_TIME_KEYS = ("timestamp", "time", "p_event_time")


def _absent(value: Any) -> bool:
    if type(value) is str and value[:1].isdigit():  # a time, or not one; never a word for "none"
        return False
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


def shorten(text: str, limit: int = 80) -> str:
    """Text cut to ``limit`` characters for an error message."""
    return text if len(text) <= limit else text[:limit] + "..."
