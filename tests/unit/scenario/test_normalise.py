"""Every generated record goes through the source's normaliser: generator and normalisers agree."""

from __future__ import annotations

import pytest

from soar.errors import NormalisationError
from soar.telemetry.normalise import normalise_record
from soar.telemetry.scenario import Scenario
from soar.telemetry.sources import Source


@pytest.mark.parametrize("name", ["small", "default"])
@pytest.mark.parametrize("source", list(Source))
def test_every_record_normalises(request: pytest.FixtureRequest, name: str, source: Source) -> None:
    scenario: Scenario = request.getfixturevalue(name)
    failures: list[str] = []
    for line in scenario.records[source]:
        try:
            normalise_record(source, line)
        except NormalisationError as exc:
            failures.append(f"{exc}: {line[:300]}")
    assert not failures, f"{len(failures)} {source} records failed; first: {failures[0]}"
