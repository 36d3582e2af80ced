"""What every attack story shares: its definition, and turning its trail into ground truth."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from soar.errors import ScenarioError
from soar.telemetry.scenario.model import FigureValue, StoryTruth
from soar.telemetry.scenario.recorder import Context, Trail

StoryFn = Callable[[Context], StoryTruth]


@dataclass(frozen=True)
class StoryInfo:
    """The fixed description of a story; the generated part lives in its trail."""

    id: str
    title: str
    description: str
    attack_techniques: tuple[str, ...]


def truth(
    info: StoryInfo, trail: Trail, entities: dict[str, str], figures: dict[str, FigureValue] | None = None
) -> StoryTruth:
    """The ground truth of a story that wrote ``trail``.

    Raises:
        ScenarioError: the story wrote no record (a bug in the story).
    """
    if trail.first is None or trail.last is None:
        raise ScenarioError(f"story {info.id} wrote no records")
    return StoryTruth(
        id=info.id,
        title=info.title,
        description=info.description,
        attack_techniques=list(info.attack_techniques),
        start=trail.first,
        end=trail.last,
        events=trail.events,
        entities=entities,
        figures=figures or {},
    )
