"""The ECS core every normalised document must have, validated with pydantic."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

EventKind = Literal["alert", "asset", "enrichment", "event", "metric", "state", "pipeline_error", "signal"]
EventOutcome = Literal["success", "failure", "unknown"]


class EcsEvent(BaseModel):
    """ECS ``event.*``: what happened, as the categorisation fields say it."""

    model_config = ConfigDict(extra="allow")

    dataset: str
    module: str
    kind: EventKind = "event"
    category: list[str]
    type: list[str]
    outcome: EventOutcome = "unknown"
    original: str = Field(min_length=1)
    action: str | None = None


class EcsDocument(BaseModel):
    """A normalised document: ``@timestamp`` in UTC, ``event.*`` set, every other ECS field kept as is."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    timestamp: AwareDatetime = Field(alias="@timestamp")
    event: EcsEvent

    @field_validator("timestamp")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def to_source(self) -> dict[str, Any]:
        """The JSON document to index, ``@timestamp`` as RFC 3339 with a ``Z``."""
        doc = self.model_dump(by_alias=True, exclude_none=True, mode="json")
        doc["@timestamp"] = format_timestamp(self.timestamp)
        return doc


class EcsCore(BaseModel):
    """The part of a document every source must get right; validated on every record before indexing.

    Only ``@timestamp`` and ``event`` are validated per record (the rest is the source's own namespace and
    is checked by the index template), which keeps validation off the ingest hot path.
    """

    model_config = ConfigDict(populate_by_name=True)

    timestamp: AwareDatetime = Field(alias="@timestamp")
    event: EcsEvent


_KINDS = frozenset(get_args(EventKind))
_OUTCOMES = frozenset(get_args(EventOutcome))
# The form the normalisers write (``format_timestamp``): a valid time of day; the date is checked apart.
_ECS_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z")
_ECS_CLOCK = re.compile(r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z")  # _ECS_TIME after the date
_DAYS: set[str] = set()  # dates (YYYY-MM-DD) already found valid; a few hundred in practice
_EVENT_CORE = itemgetter("kind", "outcome", "original", "dataset", "module", "category", "type")
_MAX_DAYS = 100_000


def validate_core(document: Mapping[str, Any]) -> None:
    """Check a document's ``@timestamp`` and ``event`` exactly as :class:`EcsCore` does.

    The usual document (``@timestamp`` in the ECS form, ``event`` a dict of plain strings and lists of
    strings) is checked here, without building a model; anything else goes through ``EcsCore``, which
    accepts what it accepts and words the error. What is accepted here ``EcsCore`` accepts too.

    Raises:
        pydantic.ValidationError: The core is not valid ECS (raised by ``EcsCore``).
    """
    stamp, event = document.get("@timestamp"), document.get("event")
    # A known day leaves only the time of day to check (the usual case, inline: this runs once a record).
    if (
        type(event) is dict
        and type(stamp) is str
        and ((stamp[:10] in _DAYS and _ECS_CLOCK.fullmatch(stamp, 10) is not None) or _plain_time(stamp))
    ):
        try:  # what every normaliser sets, in one lookup
            kind, outcome, original, dataset, module, category, types = _EVENT_CORE(event)
        except KeyError:
            if _plain_event(event):
                return
        else:
            if (
                type(kind) is str
                and kind in _KINDS
                and type(outcome) is str
                and outcome in _OUTCOMES
                and type(dataset) is str
                and type(module) is str
                and type(event.get("action")) in _TEXT
                and type(original) is str
                and original
                and (original.isascii() or _unicode(original))
                and type(category) is list
                and type(types) is list
            ):
                for item in category:  # loops, not all(): a generator is a call of its own
                    if type(item) is not str:
                        break
                else:
                    for item in types:
                        if type(item) is not str:
                            break
                    else:
                        return
    EcsCore.model_validate({"@timestamp": stamp, "event": event})


def _strings(values: Any) -> bool:
    """A list of strings (``event.category`` and ``event.type``)."""
    if type(values) is not list:
        return False
    for item in values:  # noqa: SIM110 - a loop is faster here than all() over a generator
        if type(item) is not str:
            return False
    return True


def _plain_time(stamp: Any) -> bool:
    if type(stamp) is not str or len(stamp) != 24:
        return False
    day = stamp[:10]
    if day in _DAYS:  # a day already found valid: only the time of day is left
        return _ECS_CLOCK.fullmatch(stamp, 10) is not None
    if _ECS_TIME.fullmatch(stamp) is None:
        return False
    try:
        date.fromisoformat(day)  # no 30 February, no year 0
    except ValueError:
        return False
    if len(_DAYS) < _MAX_DAYS:
        _DAYS.add(day)
    return True


def _plain_event(event: dict[str, Any]) -> bool:
    get = event.get
    kind, outcome, original = get("kind", "event"), get("outcome", "unknown"), get("original")
    if not (type(kind) is str and kind in _KINDS and type(outcome) is str and outcome in _OUTCOMES):
        return False
    if not (type(get("dataset")) is str and type(get("module")) is str and type(get("action", "")) in _TEXT):
        return False
    if not (type(original) is str and original and (original.isascii() or _unicode(original))):
        return False  # a length-checked string must be valid Unicode (no lone surrogate) for pydantic
    return _strings(get("category")) and _strings(get("type"))


_TEXT = (str, type(None))


def _unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def format_timestamp(value: datetime) -> str:
    """RFC 3339 UTC with millisecond precision and a ``Z``, the form ECS and Elasticsearch expect."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
