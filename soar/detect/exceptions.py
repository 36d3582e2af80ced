"""Rule exceptions as files: the schema, status by expiry, the ``must_not`` query and which ones a rule runs with.

One exception per file, ``<exceptions folder>/<id>.yml`` (``detections/exceptions/`` by default), so each
one has its own review, history and owner::

    id: branch-portal-health-probe
    rule: envoy_customer_request_outside_eea   # a rule id or name, or "*" for every rule
    owner: soc-l2@bank.example
    reason: the uptime monitor probes the public gateway from a hosting address in the US
    created: 2026-11-20
    expires: 2027-02-20
    match:                                      # every condition holds (AND) ...
      source.ip: {cidr: 203.0.113.0/24}         # equals: a value; one of: a list; or cidr / wildcard
      user_agent.original: {wildcard: "UptimeProbe/*"}

``match`` may also be a list of such mappings, which are alternatives (OR). Values match exactly as
stored (as in Kibana's exceptions: a keyword field is case-sensitive). An exception applies up to and
including its ``expires`` day (UTC), then stops applying; the engine counts the expired ones in each
sweep's result. Exceptions are applied in the search, as a ``must_not`` of the window query, so an
excepted event is never fetched and never becomes an alert.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

if TYPE_CHECKING:  # models.py imports this module for its fields
    from soar.detect.models import DetectRule

ANY_RULE = "*"
EXPIRING_DAYS = 14
MAX_LIFETIME = timedelta(days=366)  # exceptions are temporary by design: renewing one is a review
Scalar = bool | int | float | str
Status = Literal["active", "expiring", "expired"]

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{2,99}$")
_FIELD = re.compile(r"^[A-Za-z0-9_@][A-Za-z0-9_@.-]*$")


def _listed(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class Condition(BaseModel):
    """One field's condition: exactly one of equals, one of, CIDR ranges, wildcard patterns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    equals: Scalar | None = None
    one_of: list[Scalar] | None = Field(default=None, min_length=1)
    cidr: list[str] | None = Field(default=None, min_length=1)
    wildcard: list[str] | None = Field(default=None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {"one_of": value}
        if not isinstance(value, dict):
            return {"equals": value}
        return value

    _lists = field_validator("cidr", "wildcard", mode="before")(_listed)

    @field_validator("cidr")
    @classmethod
    def _networks(cls, value: list[str] | None) -> list[str] | None:
        for network in value or []:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"not an address or CIDR range: {network!r}") from None
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Condition:
        given = [name for name in ("equals", "one_of", "cidr", "wildcard") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("write exactly one of equals, one_of, cidr, wildcard")
        return self

    def query(self, field: str) -> dict[str, Any]:
        """This condition as a Query DSL clause on ``field``."""
        if self.equals is not None:
            return {"term": {field: self.equals}}
        if self.one_of is not None:
            return {"terms": {field: self.one_of}}
        if self.cidr is not None:  # a CIDR value in a term query matches an ip field's range
            return _any([{"term": {field: network}} for network in self.cidr])
        return _any([{"wildcard": {field: {"value": pattern}}} for pattern in self.wildcard or []])


def _any(clauses: list[dict[str, Any]]) -> dict[str, Any]:
    return clauses[0] if len(clauses) == 1 else {"bool": {"should": clauses, "minimum_should_match": 1}}


class RuleException(BaseModel):
    """One exception file: what it excepts from which rule, whose it is, why, and until when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    rule: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    created: date
    expires: date
    match: list[dict[str, Condition]] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("lower-case letters, digits, '.', '_' and '-', 3 to 100 characters")
        return value

    @field_validator("match", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @field_validator("match")
    @classmethod
    def _fields(cls, value: list[dict[str, Condition]]) -> list[dict[str, Condition]]:
        for group in value:
            if not group:
                raise ValueError("an alternative needs at least one condition")
            for field in group:
                if not _FIELD.match(field):
                    raise ValueError(f"not a field name: {field!r}")
        return value

    @field_validator("expires")
    @classmethod
    def _lifetime(cls, value: date, info: ValidationInfo) -> date:
        created = info.data.get("created")
        if created is not None and value < created:
            raise ValueError(f"{value} is before created ({created})")
        if created is not None and value - created > MAX_LIFETIME:
            raise ValueError(f"more than {MAX_LIFETIME.days} days after created: renew it instead")
        return value

    @property
    def version(self) -> str:
        """A content hash: any change to the file's meaning gives another version."""
        text = json.dumps(self.model_dump(mode="json", exclude_none=True), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def status(self, today: date) -> Status:
        """``expired`` after its ``expires`` day, ``expiring`` within 14 days of it, else ``active``."""
        if today > self.expires:
            return "expired"
        return "expiring" if (self.expires - today).days <= EXPIRING_DAYS else "active"

    def applies_to(self, rule_id: str, name: str | None) -> bool:
        """True for every rule when ``rule`` is ``*``, else for the rule of that id or name."""
        return self.rule in (ANY_RULE, rule_id) or (name is not None and self.rule == name)

    def query(self) -> dict[str, Any]:
        """The events this exception removes, as a Query DSL clause (its alternatives ORed)."""
        groups = []
        for group in self.match:
            clauses = [condition.query(field) for field, condition in group.items()]
            groups.append(clauses[0] if len(clauses) == 1 else {"bool": {"filter": clauses}})
        return _any(groups)


class RuleExceptions(BaseModel):
    """The exceptions a rule is swept with: their versions, one hash of them all, and the ``must_not``."""

    model_config = ConfigDict(frozen=True)

    versions: list[str]  # "<id>@<version>", sorted
    hash: str
    must_not: list[dict[str, Any]]


class ExceptionsInForce(BaseModel):
    """What a sweep applied: exceptions active for its rules (``id@version``), expired ones, bad files."""

    hash: str | None = None
    active: list[str] = Field(default_factory=list)
    expired: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)


def versions_hash(versions: list[str]) -> str:
    """One hash of a set of exception versions (what was in force), the same whatever their order."""
    return hashlib.sha256("\n".join(sorted(versions)).encode()).hexdigest()[:16]


def rule_exceptions(exceptions: list[RuleException], rule_id: str, name: str | None) -> RuleExceptions | None:
    """The given (active) exceptions that apply to one rule, or None when none does."""
    mine = sorted((e for e in exceptions if e.applies_to(rule_id, name)), key=lambda e: e.id)
    if not mine:
        return None
    versions = [f"{e.id}@{e.version}" for e in mine]
    return RuleExceptions(versions=versions, hash=versions_hash(versions), must_not=[e.query() for e in mine])


def apply_exceptions(
    rules: list[DetectRule], exceptions: list[RuleException], errors: list[str], today: date
) -> tuple[list[DetectRule], ExceptionsInForce]:
    """The rules with the exceptions in force today attached, and what was in force for them.

    An expired exception no longer applies; it is reported (for the rules it named) so that someone
    renews or deletes it. A bad file is reported, and the rules run without it: more alerts, never fewer.
    """
    named = [e for e in exceptions if any(e.applies_to(r.rule.rule_id, r.rule.name) for r in rules)]
    live = [e for e in named if e.status(today) != "expired"]
    out = [
        r.model_copy(update={"exceptions": rule_exceptions(live, r.rule.rule_id, r.rule.name)}) for r in rules
    ]
    active = sorted(f"{e.id}@{e.version}" for e in live)
    return out, ExceptionsInForce(
        hash=versions_hash(active) if active else None,
        active=active,
        expired=sorted(e.id for e in named if e.status(today) == "expired"),
        errors=errors,
    )
