"""The scenario generator's public models: specs, generated scenarios and the ground truth of each story."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, Field

from soar.telemetry.sources import Source

FigureValue = float | int | list[str]


class StoryTruth(BaseModel):
    """The ground truth of one attack story: what happened, when, and which raw records show it.

    ``events`` maps a source value (``"envoy"``, ``"okta"``...) to the native ids of the records that
    belong to the story: envoy ``request_id``, keycloak ``id``, okta ``uuid``, opa ``decision_id``,
    kubernetes ``auditID``, app ``event_id``. ``figures`` holds measured impact (the availability
    incident's DORA figures) and is empty for other stories.
    """

    id: str
    title: str
    description: str
    attack_techniques: list[str]
    start: AwareDatetime
    end: AwareDatetime
    events: dict[str, list[str]]
    entities: dict[str, str]
    figures: dict[str, FigureValue] = Field(default_factory=dict)


@dataclass(frozen=True)
class ScenarioSpec:
    """How big a generated day is: population, benign volumes and the scale of attack stories.

    Attributes:
        name: The scenario's name, the key in ``SCENARIOS``.
        description: One line for ``soar demo --help`` and the docs.
        customers: Retail customers in the world.
        employees: Workforce (Okta) users; about one in ten is an Okta admin.
        sessions: Customer banking sessions over the day.
        tpp_calls: PSD2 third-party provider calls over the day.
        k8s_background: Routine Kubernetes API requests (controllers, kubelets, CI) over the day.
        attack_scale: Multiplier on the volume of noisy stories (stuffing, spraying, the incident).
        duration: Length of the simulated window.
    """

    name: str
    description: str
    customers: int
    employees: int
    sessions: int
    tpp_calls: int
    k8s_background: int
    attack_scale: float
    duration: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class Scenario:
    """A generated day: raw lines per source, in time order, and the stories hidden in them."""

    name: str
    seed: int
    start: datetime
    end: datetime
    records: dict[Source, list[str]]
    stories: list[StoryTruth] = field(default_factory=list)

    def counts(self) -> dict[Source, int]:
        """How many raw records each source has."""
        return {source: len(lines) for source, lines in self.records.items()}

    def story(self, story_id: str) -> StoryTruth:
        """The story called ``story_id``.

        Raises:
            KeyError: no story has that id.
        """
        for story in self.stories:
            if story.id == story_id:
                return story
        raise KeyError(story_id)


SCENARIOS: dict[str, ScenarioSpec] = {
    "default": ScenarioSpec(
        name="default",
        description="a bank's day: about 40,000 events across six sources with twelve attack stories",
        customers=3000,
        employees=40,
        sessions=2200,
        tpp_calls=600,
        k8s_background=5000,
        attack_scale=1.0,
    ),
    "small": ScenarioSpec(
        name="small",
        description="the same day thinned to about 2,000 events, for fast tests",
        customers=300,
        employees=12,
        sessions=80,
        tpp_calls=40,
        k8s_background=300,
        attack_scale=0.15,
    ),
}
