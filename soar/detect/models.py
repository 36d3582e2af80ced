"""The detection engine's data crossing workflow and activity boundaries (pydantic models)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from soar.detect.exceptions import ExceptionsInForce, RuleExceptions
from soar.detect.settings import DetectSettings, RuleOptions
from soar.rules.models import CompiledCorrelation, CompiledRule


class RuleRef(BaseModel):
    """A rule a sweep was started for: its id and the content hash it had then."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    content_hash: str | None = None


class DetectRule(BaseModel):
    """A compiled rule with the options it is swept with."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["rule"] = "rule"
    rule: CompiledRule
    options: RuleOptions
    exceptions: RuleExceptions | None = None  # in force for this run: a must_not of its window query

    @property
    def rule_id(self) -> str:
        """The rule's id (its checkpoint's and its alerts' rule id)."""
        return self.rule.rule_id

    @property
    def content_hash(self) -> str:
        """The content hash of the compiled rule."""
        return self.rule.content_hash


class DetectCorrelation(BaseModel):
    """A compiled Sigma correlation with the options it is swept with.

    ``part_exceptions`` holds the exceptions in force for each referenced rule (by rule id): an event
    excepted from a rule does not count towards the correlation either.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["correlation"] = "correlation"
    correlation: CompiledCorrelation
    options: RuleOptions
    part_exceptions: dict[str, RuleExceptions] = Field(default_factory=dict)

    @property
    def rule_id(self) -> str:
        """The correlation's id."""
        return self.correlation.rule_id

    @property
    def content_hash(self) -> str:
        """The content hash of the compiled correlation."""
        return self.correlation.content_hash


# What a sweep runs: a rule (one alert per hit, or threshold / new terms / flatline) or a correlation.
Sweepable = Annotated[DetectRule | DetectCorrelation, Field(discriminator="kind")]


class Window(BaseModel):
    """A half-open time range ``[start, end)`` on a rule's time field."""

    model_config = ConfigDict(frozen=True)

    start: AwareDatetime
    end: AwareDatetime


class Gap(BaseModel):
    """Time a rule was not swept on schedule: ``filled`` by catch-up windows, or missed (too old)."""

    model_config = ConfigDict(frozen=True)

    start: AwareDatetime
    end: AwareDatetime
    filled: bool
    run_id: str | None = None


class Checkpoint(BaseModel):
    """Where a rule's sweeps got to; one document per rule in ``soar-checkpoints-<namespace>``."""

    rule_id: str
    group_id: str
    content_hash: str
    time_field: str
    end: AwareDatetime  # the time field up to which every hit has its alert written
    backlog: bool = False  # the per-run alert cap stopped the last run before ``end`` of its window
    updated_at: AwareDatetime | None = None
    run_ids: list[str] = Field(default_factory=list)
    gaps: list[Gap] = Field(default_factory=list)


class SweepInput(BaseModel):
    """Input of one sweep of a rule group.

    Attributes:
        group_id: The rule group (rules over the same indices).
        rules: The rules to sweep; empty means every rule of the group found at ``rules_path``.
        rules_path: Rule files or folders, read by the load activity (never by the workflow).
        namespace: Where alerts and checkpoints are written (``soar-alerts-<namespace>``).
        settings: Engine defaults and batching.
        force: Run every rule, due or not (``soar detect run --once``); schedules leave it off.
    """

    group_id: str
    rules: list[RuleRef] = Field(default_factory=list)
    rules_path: list[str]
    namespace: str = "default"
    settings: DetectSettings = Field(default_factory=DetectSettings)
    force: bool = False


class SweepResult(BaseModel):
    """What one sweep did; the CLI adds these up into its one JSON line."""

    group_id: str
    rules: int = 0
    windows: int = 0
    hits: int = 0
    alerts_created: int = 0
    duplicates_skipped: int = 0
    gaps_filled: int = 0
    gaps_missed: int = 0
    capped: list[str] = Field(default_factory=list)
    truncated: list[str] = Field(default_factory=list)  # correlations that hit the per-group event cap
    rule_errors: list[str] = Field(default_factory=list)  # rules skipped: a bad soar: attribute
    suppressed: int = 0  # hits counted on an earlier alert of their group-by values (soar.detect.suppression)
    exceptions: ExceptionsInForce = Field(default_factory=ExceptionsInForce)
    handed_over: int = 0
    unrouted: int = 0
    missing_rules: list[str] = Field(default_factory=list)


class LoadGroupInput(BaseModel):
    """Input of the activity that loads a group's rules and their checkpoints."""

    group_id: str
    rules: list[RuleRef]
    rules_path: list[str]
    namespace: str
    defaults: RuleOptions
    exceptions_path: str | None = None  # the exception files (soar.detect.exceptions)


class LoadGroupOutput(BaseModel):
    """The group's rules with their options, each rule's checkpoint, and refs no longer found."""

    rules: list[Sweepable]
    checkpoints: dict[str, Checkpoint]
    missing: list[str] = Field(default_factory=list)
    exceptions: ExceptionsInForce = Field(default_factory=ExceptionsInForce)
    errors: list[str] = Field(default_factory=list)  # one line per rule skipped (file, rule id, field)


class RuleWindow(BaseModel):
    """One rule's window in a sweep step, and how many new alerts it may still write this run."""

    rule: Sweepable
    window: Window
    max_alerts: int


class SearchWindowInput(BaseModel):
    """Input of the activity that searches one step's windows and writes their alerts."""

    group_id: str
    run_id: str
    namespace: str
    items: list[RuleWindow]
    page_size: int
    concurrency: int
    max_group_events: int = 10_000  # correlations: events read per group and referenced rule, per window


class RuleWindowResult(BaseModel):
    """What one rule's window produced; ``reached`` is how far its alerts are now all written."""

    rule_id: str
    hits: int
    created: int
    duplicates: int
    capped: bool
    suppressed: int = 0
    truncated: bool = False  # a correlation group held more events than max_group_events
    reached: AwareDatetime


class HandOverOutput(BaseModel):
    """Alerts handed over: playbooks started, already started before, and alerts no route matched."""

    started: int = 0
    already_started: int = 0
    unrouted: int = 0


class SearchWindowOutput(BaseModel):
    """Per-rule results of one sweep step, and the alerts it handed over to their playbooks as it wrote them."""

    results: list[RuleWindowResult]
    handed: HandOverOutput = Field(default_factory=lambda: HandOverOutput())


class SaveCheckpointsInput(BaseModel):
    """Input of the activity that advances checkpoints after a step's alerts are written."""

    namespace: str
    checkpoints: list[Checkpoint]


class HandOverInput(BaseModel):
    """Input of the activity that hands the group's pending alerts to their playbooks."""

    group_id: str
    namespace: str
