"""The deterministic scenario generator: a bank's day across six telemetry sources, with attack stories."""

from __future__ import annotations

from soar.telemetry.scenario.generator import DEFAULT_START, STORIES, generate
from soar.telemetry.scenario.model import SCENARIOS, Scenario, ScenarioSpec, StoryTruth
from soar.telemetry.scenario.recorder import ID_KEYS

__all__ = [
    "DEFAULT_START",
    "ID_KEYS",
    "SCENARIOS",
    "STORIES",
    "Scenario",
    "ScenarioSpec",
    "StoryTruth",
    "generate",
]
