"""Compiled rules: what the detection engine executes (pydantic models, with a content hash)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

from soar.errors import RuleError
from soar.telemetry.sources import Source

CorrelationType = Literal["event_count", "value_count", "temporal", "temporal_ordered"]


def content_hash(payload: Any) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces) of a payload."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CompiledRule(BaseModel):
    """One Sigma rule as a Query DSL query on its source's indices."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    title: str
    level: str | None = None
    status: str | None = None
    description: str | None = None
    tags: list[str] = []
    source: Source
    index: str
    query: dict[str, Any]
    content_hash: str
    path: str
    version: str | None = None  # the rule's ``modified`` date, else its ``date``
    name: str | None = None  # the rule's ``name`` (correlations may reference it)


CorrelationOp = Literal["gt", "gte", "lt", "lte", "eq", "neq"]


class CorrelationBound(BaseModel):
    """One further bound of a range condition (Sigma's ``gt: 100`` with ``lte: 200``)."""

    model_config = ConfigDict(frozen=True)

    op: CorrelationOp
    count: int


class CorrelationCondition(BaseModel):
    """``count`` compared with ``op`` (gt, gte, lt, lte, eq, neq); ``field`` for value_count.

    A range has its further bounds in ``also``; every bound must hold. ``also`` is left out of the
    serialised form when empty, so the lock hashes of single-bound conditions stay what they were.
    """

    model_config = ConfigDict(frozen=True)

    op: CorrelationOp
    count: int
    field: str | None = None
    also: list[CorrelationBound] = []

    @model_serializer(mode="wrap")
    def _compact(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not self.also:
            data.pop("also", None)
        return data

    @property
    def bounds(self) -> list[CorrelationBound]:
        """Every bound of the condition, the first one first."""
        return [CorrelationBound(op=self.op, count=self.count), *self.also]


class CompiledCorrelation(BaseModel):
    """A Sigma correlation over compiled rules, executed by the detection engine."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    title: str
    level: str | None = None
    description: str | None = None
    tags: list[str] = []
    type: CorrelationType
    timespan: str
    timespan_seconds: int
    group_by: list[str] = []  # as written in the rule (aliases included)
    group_by_fields: dict[str, list[str]] = {}  # referenced rule id -> its ECS group-by fields
    condition: CorrelationCondition | None = None  # temporal: every referenced rule must match
    rules: list[CompiledRule]
    generate: bool = False
    content_hash: str
    path: str
    version: str | None = None


@dataclass
class CompileResult:
    """Every compiled rule and correlation, and one error per rule that could not be compiled."""

    rules: list[CompiledRule] = field(default_factory=list)
    correlations: list[CompiledCorrelation] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)
    recompiled: int = 0  # rules (not correlations) compiled in this run; the rest came from the cache
