"""Scenarios generated once per test session: generating "default" takes a few seconds."""

from __future__ import annotations

import pytest

from soar.telemetry.scenario import Scenario, generate


@pytest.fixture(scope="session")
def small() -> Scenario:
    return generate("small")


@pytest.fixture(scope="session")
def default() -> Scenario:
    return generate("default")
