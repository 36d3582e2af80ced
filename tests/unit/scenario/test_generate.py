"""The generator's contract: names, determinism, window, volumes and speed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from soar.errors import ScenarioError
from soar.telemetry.scenario import DEFAULT_START, SCENARIOS, Scenario, generate
from soar.telemetry.sources import Source


def test_known_scenarios() -> None:
    assert {"default", "small"} <= set(SCENARIOS)


def test_unknown_name_lists_known_names() -> None:
    with pytest.raises(ScenarioError) as info:
        generate("nope")
    assert "default" in str(info.value)
    assert "small" in str(info.value)


def test_naive_start_is_refused() -> None:
    with pytest.raises(ScenarioError, match="timezone-aware"):
        generate("small", start=datetime(2026, 1, 1))


def test_same_seed_same_bytes(small: Scenario) -> None:
    again = generate("small")
    assert again.records == small.records
    assert [s.model_dump() for s in again.stories] == [s.model_dump() for s in small.stories]


def test_other_seed_other_records(small: Scenario) -> None:
    other = generate("small", seed=7)
    for source in Source:
        assert other.records[source] != small.records[source]


def test_default_window(small: Scenario) -> None:
    assert small.start == DEFAULT_START == datetime(2026, 11, 23, tzinfo=UTC)
    assert small.end - small.start == timedelta(hours=24)
    assert small.name == "small"
    assert small.seed == 1337


def test_start_moves_the_window() -> None:
    start = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)
    moved = generate("small", start=start)
    assert moved.start == start
    assert moved.end == start + timedelta(hours=24)
    for story in moved.stories:
        assert start <= story.start <= story.end <= moved.end


def test_every_source_has_records(small: Scenario) -> None:
    counts = small.counts()
    assert set(counts) == set(Source)
    assert all(n > 0 for n in counts.values())


def test_small_is_small(small: Scenario) -> None:
    assert 1_000 <= sum(small.counts().values()) <= 3_000


def test_default_volume_is_bounded(default: Scenario) -> None:
    assert 20_000 <= sum(default.counts().values()) <= 60_000
