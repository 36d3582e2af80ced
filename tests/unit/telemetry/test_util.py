"""The shared normaliser helpers: the fast paths give exactly what the general paths give."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soar.errors import NormalisationError
from soar.telemetry.normalisers._util import (
    as_str,
    ip_port,
    iso,
    parse_json_object,
    parse_time,
    pick,
    present,
    prune,
    timestamp,
    typed,
)


@given(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)))
def test_timestamp_keeps_the_ecs_form_as_iso_of_parse_time_would(moment: datetime) -> None:
    text = iso(moment.replace(tzinfo=UTC))
    assert timestamp(text, "ts") == iso(parse_time(text, "ts")) == text


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-01T00:00:60.000Z",  # leap second: clamped by parse_time
        "2024-03-01T10:00:00.5+01:00",
        "2024-03-01 10:00:00.123Z",
        1_700_000_000_123,
    ],
)
def test_timestamp_falls_back_to_parse_time(value: object) -> None:
    assert timestamp(value, "ts") == iso(parse_time(value, "ts"))


@pytest.mark.parametrize("value", ["2024-02-30T00:00:00.000Z", None, "yesterday", True])
def test_timestamp_rejects_what_parse_time_rejects(value: object) -> None:
    with pytest.raises(NormalisationError) as caught:
        timestamp(value, "ts")
    assert caught.value.field == "ts"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.0.0.1:8080", ("10.0.0.1", 8080)),
        ("tcp://10.0.0.1:80", ("10.0.0.1", 80)),
        ("[::1]:443", ("::1", 443)),
        ("10.0.0.1", ("10.0.0.1", None)),
        ("10.0.0.1:99999", ("10.0.0.1", None)),
        ("example.com:80", (None, None)),
        (None, (None, None)),
        ("1.2.3.4:" + "9" * 100, ("1.2.3.4", None)),  # too long for the cache, same answer
    ],
)
def test_ip_port(value: str | None, expected: tuple[str | None, int | None]) -> None:
    assert ip_port(value) == expected
    assert ip_port(value) == expected  # and again, from the cache


def test_pick_present_prune() -> None:
    assert pick({"a": 1, "b": None, "c": 3}, (("c", "x"), ("a", "y"), ("b", "z"))) == {"x": 3, "y": 1}
    assert list(present(b=1, a=None, c=2)) == ["b", "c"]
    assert prune({"a": None, "b": {"c": None}, "d": [None], "e": {"f": 0}}) == {"d": [None], "e": {"f": 0}}


def test_typed_and_as_str_fast_paths_keep_their_rules() -> None:
    assert typed({"n": True}, "n", bool) is True
    with pytest.raises(NormalisationError):
        typed({"n": True}, "n", int)
    assert typed({"s": "x"}, "s", str) == "x"
    assert as_str("x") == "x"
    assert as_str(False) == "false"
    assert as_str({"a": 1}) is None
    assert as_str(timedelta(0)) == "0:00:00"


def test_timestamps_without_a_zone_are_utc() -> None:
    from datetime import UTC, datetime

    from soar.telemetry.normalisers._util import parse_time

    assert parse_time("2022-11-29 22:40:02.903", "t") == datetime(2022, 11, 29, 22, 40, 2, 903000, tzinfo=UTC)
    assert parse_time("2025-08-26 17:40:49.330617000", "t") == datetime(
        2025, 8, 26, 17, 40, 49, 330617, tzinfo=UTC
    )
    assert parse_time("2025-08-26T17:40:49+02:00", "t") == datetime(2025, 8, 26, 15, 40, 49, tzinfo=UTC)


_SECOND = "2024-03-01T10:00:00"


@pytest.mark.parametrize(
    "tail",
    [".123Z", ".123456789Z", ".12Z", ".1234", ".abcZ", ".١٢٣Z", "Z", ".123+01:00", ".123Zx", ""],
)
def test_a_second_seen_before_does_not_excuse_a_bad_fraction(tail: str) -> None:
    assert timestamp(f"{_SECOND}.000Z", "ts") == f"{_SECOND}.000Z"  # the second is now known good
    text = _SECOND + tail
    assert _outcome(timestamp, text) == _outcome(lambda value, field: iso(parse_time(value, field)), text)


def _outcome(convert: Any, value: str) -> str:
    try:
        return str(convert(value, "ts"))
    except NormalisationError as exc:
        return f"error: {exc}"


def test_addresses_sharing_a_host_keep_their_own_ports() -> None:
    for port in (1, 65535, 65536, 8080):
        expected = ("10.9.8.7", port) if port <= 65535 else ("10.9.8.7", None)
        assert ip_port(f"10.9.8.7:{port}") == expected
    assert ip_port("10.9.8.7") == ("10.9.8.7", None)
    assert ip_port("[fe80::1]:80") == ip_port("[FE80::1]:80") == ("fe80::1", 80)


@given(st.integers(min_value=0, max_value=253_402_300_799_999))
def test_epoch_milliseconds_give_what_iso_of_parse_time_gives(value: int) -> None:
    assert timestamp(value, "ts") == iso(parse_time(value, "ts"))
    assert timestamp(value, "ts") == iso(parse_time(value, "ts"))  # and again, its day now known


@pytest.mark.parametrize(
    "value", [0, 999, 1000, 86_399_999, 86_400_000, 951_782_400_000, 253_402_300_799_999]
)
def test_epoch_millisecond_edges(value: int) -> None:
    assert timestamp(value, "ts") == iso(parse_time(value, "ts"))


@pytest.mark.parametrize(
    "clock",
    [
        "T10:00:00.123Z",
        "T23:59:59.999999Z",
        "T24:00:00.000Z",
        "T23:59:60.000Z",
        "T12:60:00.000Z",
        "t10:00:00.123Z",
    ],
)
def test_a_day_seen_before_does_not_excuse_a_bad_time_of_day(clock: str) -> None:
    assert (
        timestamp("2024-03-01T00:00:00.000Z", "ts") == "2024-03-01T00:00:00.000Z"
    )  # the day is now known good
    text = "2024-03-01" + clock
    assert _outcome(timestamp, text) == _outcome(lambda value, field: iso(parse_time(value, field)), text)


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**64 + 2)
    | st.integers(max_value=-(2**63) + 2, min_value=-(2**63) - 2)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.text(), _JSON_VALUES, max_size=6))
def test_a_json_line_decodes_to_exactly_what_was_written(obj: dict[str, Any]) -> None:
    # Integers keep their type and every digit; the fast parser may not decide otherwise.
    decoded = parse_json_object(json.dumps(obj))
    assert decoded == obj
    assert _types(decoded) == _types(obj)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"bytes": 18446744073709551616}', {"bytes": 2**64}),
        ('{"bytes": 18446744073709551615}', {"bytes": 2**64 - 1}),
        ('{"offset": -9223372036854775809}', {"offset": -(2**63) - 1}),
        ('{"id": 123456789012345678901234567890}', {"id": 123456789012345678901234567890}),
    ],
)
def test_integers_beyond_64_bits_stay_exact_integers(line: str, expected: dict[str, int]) -> None:
    decoded = parse_json_object(line)
    assert decoded == expected
    assert all(type(v) is int for v in decoded.values())


def test_lines_the_fast_parser_refuses_are_decided_by_the_standard_one() -> None:
    decoded = parse_json_object('{"ratio": NaN, "s": "\\ud800"}')
    assert math.isnan(decoded["ratio"])
    assert decoded["s"] == "\ud800"
    with pytest.raises(NormalisationError, match=r"^not a JSON object: "):
        parse_json_object('{"a": 1,')
    with pytest.raises(NormalisationError, match=r"^not a JSON object: got list"):
        parse_json_object("[1]")


def _types(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value)
