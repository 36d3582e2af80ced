"""The ECS core every normalised document must have, validated with pydantic."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

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


def format_timestamp(value: datetime) -> str:
    """RFC 3339 UTC with millisecond precision and a ``Z``, the form ECS and Elasticsearch expect."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
