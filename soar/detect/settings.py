"""Defaults of the detection engine and the per-rule overrides read from a Sigma rule's ``soar:`` attribute."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from soar.errors import RuleError

TimeField = Literal["@timestamp", "event.ingested"]
Level = Literal["informational", "low", "medium", "high", "critical"]
Operator = Literal["eq", "gt", "gte", "lt", "lte"]

_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": "milliseconds", "s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(value: Any) -> Any:
    """``"5m"``/``"90s"``/``"2h"``/``"1d"`` as a timedelta; other values (``PT5M``) are left to pydantic."""
    if isinstance(value, str) and not value.startswith("P"):  # ISO 8601 (as serialised) is pydantic's
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"not a duration: {value!r} (write 30s, 5m, 2h or 1d)")
        return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    return value


class Suppression(BaseModel):
    """Alert suppression: one alert per value tuple of ``by`` within ``for`` after its first hit.

    Attributes:
        by: The ECS fields whose values group hits (one to three, as in Kibana).
        for_: How long after a group's first hit its further hits are counted instead of alerted.
        missing: Hits missing a ``by`` field: ``suppress`` groups them (the value is null), ``alert`` gives
            each its own alert.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    by: list[str] = Field(min_length=1, max_length=3)
    for_: timedelta = Field(alias="for")
    missing: Literal["suppress", "alert"] = "suppress"

    _duration = field_validator("for_", mode="before")(parse_duration)

    @field_validator("for_")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be positive")
        return value


class FieldMapping(BaseModel):
    """A condition on one field of the matched event: ``field`` ``operator`` ``value``.

    ``eq`` holds when any value of the field equals ``value`` (a list field: one of its items);
    ``gt``/``gte``/``lt``/``lte`` compare numbers (numeric strings count as numbers).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(min_length=1)
    operator: Operator = "eq"
    value: bool | int | float | str

    @model_validator(mode="after")
    def _numeric_comparison(self) -> FieldMapping:
        if self.operator != "eq" and (
            isinstance(self.value, bool) or not isinstance(self.value, int | float)
        ):
            raise ValueError(f"operator {self.operator} needs a number, not {self.value!r}")
        return self


class RiskScoreMapping(FieldMapping):
    """A risk score for alerts whose event meets the condition; the highest matching score wins."""

    risk_score: int = Field(ge=0, le=100)


class SeverityMapping(FieldMapping):
    """A severity for alerts whose event meets the condition; the highest matching severity wins."""

    severity: Level


def _positive_span(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be positive")
    return value


def _listed(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class Threshold(BaseModel):
    """A threshold rule: one alert when ``count`` events of the rule share the ``field`` values within ``timespan``.

    Executed as a Sigma ``event_count`` correlation over the rule itself (sliding windows, see
    :mod:`soar.detect.sequences`); no ``field`` counts every event of the rule together.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: list[str] = Field(default_factory=list, max_length=5)
    count: int = Field(ge=1)
    timespan: timedelta

    _field = field_validator("field", mode="before")(_listed)
    _duration = field_validator("timespan", mode="before")(parse_duration)
    _span = field_validator("timespan")(_positive_span)


class NewTerms(BaseModel):
    """A new terms rule: one alert when the ``fields`` value tuple was not seen in the ``history`` before."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: list[str] = Field(min_length=1, max_length=3)
    history: timedelta

    _fields = field_validator("fields", mode="before")(_listed)
    _duration = field_validator("history", mode="before")(parse_duration)
    _span = field_validator("history")(_positive_span)


class Flatline(BaseModel):
    """A flatline rule: one alert when the rule matched no event for longer than ``timespan`` (telemetry health)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timespan: timedelta

    _duration = field_validator("timespan", mode="before")(parse_duration)

    @field_validator("timespan")
    @classmethod
    def _at_least_a_minute(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1):
            raise ValueError("must be at least 1m")
        return value


class RuleOptions(BaseModel):
    """How one rule is swept: the engine defaults, overridden per rule.

    Attributes:
        interval: How often the rule runs; a rule whose checkpoint is younger than this is not due.
        overlap: How far each window reaches back before the checkpoint (late, out-of-order events).
        lookback: How far the first window of a rule without a checkpoint reaches back.
        ingest_delay: How far behind now a window ends, so events still being ingested are not skipped.
        time_field: The field windows are cut on: the event's time or the time it was ingested.
        max_alerts: New alerts one run writes per rule; the rest is carried to the next run.
        max_window: The longest single window; longer spans (first run, catch-up) are cut into windows.
        max_catchup: How far back a sweep catches up after downtime; older time is recorded as missed.
        suppress: Alert suppression by field values (none: one alert per hit).
        risk_score_mapping: Risk scores from event fields, over the default of the rule's level.
        severity_mapping: Severities from event fields, over the rule's level.
        threshold: Alert on a count of events per field values (none: one alert per hit).
        new_terms: Alert on field values not seen in a history window.
        flatline: Alert when the rule matched nothing for a while.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval: timedelta = timedelta(minutes=5)
    overlap: timedelta = timedelta(minutes=1)
    lookback: timedelta = timedelta(hours=25)
    ingest_delay: timedelta = timedelta(seconds=30)
    time_field: TimeField = "@timestamp"
    max_alerts: int = Field(default=5000, ge=1)
    max_window: timedelta = timedelta(hours=6)
    max_catchup: timedelta = timedelta(days=3)
    suppress: Suppression | None = None
    risk_score_mapping: list[RiskScoreMapping] = Field(default_factory=list)
    severity_mapping: list[SeverityMapping] = Field(default_factory=list)
    threshold: Threshold | None = None
    new_terms: NewTerms | None = None
    flatline: Flatline | None = None

    _durations = field_validator(
        "interval", "overlap", "lookback", "ingest_delay", "max_window", "max_catchup", mode="before"
    )(parse_duration)

    @field_validator("interval", "lookback", "max_window", "max_catchup")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be positive")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> RuleOptions:
        kinds = [k for k in ("threshold", "new_terms", "flatline") if getattr(self, k) is not None]
        if len(kinds) > 1:
            raise ValueError(f"{' and '.join(kinds)} exclude one another: a rule is of one kind")
        if kinds and self.suppress is not None:
            raise ValueError(f"suppress applies to single-event rules, not to {kinds[0]}")
        return self

    @property
    def kind(self) -> Literal["rule", "threshold", "new_terms", "flatline"]:
        """What the rule's alerts stand for: one hit, a count, a new value tuple or a silence."""
        if self.threshold is not None:
            return "threshold"
        if self.new_terms is not None:
            return "new_terms"
        return "rule" if self.flatline is None else "flatline"

    def override(self, custom: dict[str, Any], *, file: str, rule_id: str) -> RuleOptions:
        """These options with a rule's ``soar:`` attribute applied.

        Raises:
            RuleError: an unknown key or a bad value; names the file, rule id and field.
        """
        try:
            return RuleOptions.model_validate({**self.model_dump(), **custom})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(["soar", *(str(p) for p in first["loc"])])  # a model check has no loc
            raise RuleError(first["msg"], file=file, field=where, rule_id=rule_id) from None


class DetectSettings(BaseModel):
    """Settings of the detection engine (defaults for every rule, batching, schedules).

    Attributes:
        rules: The default rule options.
        page_size: Hits fetched per search request (first page by ``_msearch``, then point in time).
        concurrency: Searches a window runs at once.
        catchup_window: How far back a Temporal Schedule catches up runs it missed while down.
        exceptions: The folder of exception files (None: ``exceptions/`` in the first rules folder).
        max_group_events: Correlations and thresholds: events read per group and referenced rule in one
            window; a group with more is evaluated on its first ones and reported as truncated.
    """

    model_config = ConfigDict(extra="forbid")

    rules: RuleOptions = Field(default_factory=RuleOptions)
    page_size: int = Field(default=500, ge=1, le=10_000)
    concurrency: int = Field(default=4, ge=1)
    catchup_window: timedelta = timedelta(days=1)
    exceptions: Path | None = None
    max_group_events: int = Field(default=10_000, ge=100, le=1_000_000)

    _durations = field_validator("catchup_window", mode="before")(parse_duration)

    def exceptions_dir(self, rules: list[Path]) -> Path:
        """The exceptions folder: the configured one, else ``exceptions/`` in the first rules folder given."""
        if self.exceptions is not None:
            return self.exceptions
        folders = [p for p in rules if p.is_dir()] or [p.parent for p in rules] or [Path("detections")]
        return folders[0] / "exceptions"
