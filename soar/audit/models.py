"""Audit records and the canonical hashing that chains them; pure, so workflows may import it.

Canonical JSON is ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
allow_nan=False)`` encoded as UTF-8, and every hash is the lowercase hex SHA-256 of it. A record's ``hash``
covers every other field, ``at`` written as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC, microseconds), so a
verifier in any language can recompute it from the stored document alone.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, field_serializer, field_validator
from pydantic_core import to_jsonable_python

MAX_SEQ = 99_999_999  # the document id holds 8 digits
MAX_RESULT_BYTES = 8192
_HEX64 = r"^[0-9a-f]{64}$"
_ACTION = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
# Result keys that name a credential: a result is a summary a person reads, never a secret.
_SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?$|secret|token|api[_-]?key|authori[sz]ation|cookie|private[_-]?key|credential",
    re.IGNORECASE,
)


class AuditAction(StrEnum):
    """The documented vocabulary of ``action``; the field stays a ``str`` (lowercase, dotted) so it can grow."""

    PLAYBOOK_STARTED = "playbook.started"
    PLAYBOOK_COMPLETED = "playbook.completed"
    PLAYBOOK_FAILED = "playbook.failed"
    ALERT_TRIAGED = "alert.triaged"
    ALERT_ENRICHED = "alert.enriched"
    ALERT_SUPPRESSED = "alert.suppressed"
    INCIDENT_OPENED = "incident.opened"
    INCIDENT_ALERT_ADDED = "incident.alert_added"
    INCIDENT_UPDATED = "incident.updated"
    INCIDENT_CLASSIFIED = "incident.classified"
    INCIDENT_CLOSED = "incident.closed"
    ACTION_PROPOSED = "action.proposed"
    APPROVAL_REQUESTED = "approval.requested"
    APPROVAL_GRANTED = "approval.granted"
    APPROVAL_REFUSED = "approval.refused"
    APPROVAL_EXPIRED = "approval.expired"
    ACTION_APPLIED = "action.applied"
    ACTION_FAILED = "action.failed"
    ACTION_REVERTED = "action.reverted"
    CONNECTOR_CALLED = "connector.called"
    NOTIFICATION_SENT = "notification.sent"
    REPORT_RENDERED = "report.rendered"
    REPORT_SUBMITTED = "report.submitted"
    DEADLINE_MISSED = "deadline.missed"


def canonical_json(value: Any) -> bytes:
    """The canonical JSON bytes of a JSON-able value (pydantic models, enums and datetimes included).

    Raises:
        ValueError: the value cannot be written as JSON (NaN, infinity, an unknown type).
    """
    return _dumps(to_jsonable_python(value))


def _dumps(plain: Any) -> bytes:
    return json.dumps(
        plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def document_hash(document: dict[str, Any]) -> str:
    """The hash a stored record must carry: SHA-256 of the canonical JSON of the document without ``hash``.

    Raises:
        ValueError: the document holds a value JSON cannot carry (NaN, infinity).
    """
    return sha256_hex(_dumps({k: v for k, v in document.items() if k != "hash"}))


def sha256_hex(data: bytes) -> str:
    """Lowercase hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


def input_hash(value: Any) -> str:
    """The hash recorded for an input instead of the input itself; ``""`` when there is no input."""
    return "" if value is None else sha256_hex(canonical_json(value))


def format_at(at: datetime) -> str:
    """The one way ``at`` is written: UTC, microseconds, ``Z``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _no_secret_keys(value: Any, path: str = "result") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if _SECRET_KEY.search(str(key)):
                raise ValueError(f"{path}.{key}: a result never holds a credential")
            _no_secret_keys(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _no_secret_keys(item, f"{path}[{i}]")


class AuditEntry(BaseModel):
    """One record as its writer fixes it, before hashing: the input of the ``audit.append`` activity.

    Attributes:
        stream: The chain it belongs to: a workflow id, or ``cli`` for people's direct actions.
        seq: Its place in the stream, 1, 2, 3 ... with no gaps.
        at: When it happened (aware, stored as UTC).
        actor: A person's name, or ``soar:<playbook>``.
        action: What happened, lowercase and dotted (:class:`AuditAction` lists the known ones).
        subject: What it happened to: an incident, action or alert id ("" when none).
        input_hash: :func:`input_hash` of the input; the input itself is never stored.
        result: A short JSON summary of the outcome, never a secret.
        prev_hash: The ``hash`` of record ``seq - 1``; ``""`` for seq 1.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    stream: str = Field(min_length=1, max_length=400, pattern=r"^\S+$")
    seq: int = Field(ge=1, le=MAX_SEQ)
    at: AwareDatetime
    actor: str = Field(min_length=1, max_length=200)
    action: str = Field(max_length=100, pattern=_ACTION)
    subject: str = Field(default="", max_length=400)
    input_hash: str = Field(default="", pattern=r"^([0-9a-f]{64})?$")
    result: dict[str, JsonValue] = Field(default_factory=dict)
    prev_hash: str = Field(default="", pattern=r"^([0-9a-f]{64})?$")

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @field_validator("result")
    @classmethod
    def _small_and_secret_free(cls, value: dict[str, JsonValue]) -> dict[str, JsonValue]:
        _no_secret_keys(value)
        if len(canonical_json(value)) > MAX_RESULT_BYTES:
            raise ValueError(f"result: larger than {MAX_RESULT_BYTES} bytes; keep it a short summary")
        return value

    @field_serializer("at")
    def _write_at(self, at: datetime) -> str:
        return format_at(at)

    def fields(self) -> dict[str, Any]:
        """Every field as plain JSON, exactly as hashed and stored."""
        return self.model_dump(mode="json", include=set(AuditEntry.model_fields))

    def compute_hash(self) -> str:
        """SHA-256 over the canonical JSON of every field but ``hash``."""
        return document_hash(self.fields())

    def sealed(self) -> AuditRecord:
        """This entry with its hash."""
        return AuditRecord(**self.fields(), hash=self.compute_hash())


class AuditRecord(AuditEntry):
    """A stored record: the entry and its ``hash``."""

    hash: str = Field(pattern=_HEX64)

    @property
    def doc_id(self) -> str:
        """The document id: ``<stream>:<seq, 8 digits>``."""
        return doc_id(self.stream, self.seq)


RECORD_FIELDS = frozenset(AuditRecord.model_fields)


def doc_id(stream: str, seq: int) -> str:
    """The document id of a stream's record ``seq``; one id per place, so a second write is a 409."""
    return f"{stream}:{seq:08d}"


class AuditReceipt(BaseModel):
    """What an append returns: where the record sits and its hash (the stream's new head)."""

    stream: str
    seq: int
    hash: str
    created: bool  # False: the identical record was already there (a retried activity)


class TrailState(BaseModel):
    """Where a workflow's trail stands; carried across continue-as-new.

    Attributes:
        stream: The stream (the workflow id).
        seq: The last seq written (0: none yet).
        head: The hash of record ``seq`` ("" before the first).
        opened: True once the stream's stored head was read (a reused workflow id continues its chain).
    """

    stream: str = Field(min_length=1, max_length=400, pattern=r"^\S+$")
    seq: int = Field(default=0, ge=0, le=MAX_SEQ)
    head: str = ""
    opened: bool = False


class AuditBatch(BaseModel):
    """Input of the ``audit.append_batch`` activity: records to chain onto a stream after a known record.

    The activity places them: entry ``i`` becomes record ``after_seq + i + 1``, linked to the one before,
    whatever seq and prev_hash the entries carry. A place already holding the same record (an earlier
    attempt of the same activity, or the same step written at another ``at``) is taken as that record.

    Attributes:
        stream: The stream.
        after_seq: The last record of the stream the writer knows (0: none).
        after_hash: That record's hash ("" for none).
        entries: The records' contents, in order.
        linked: The writer stored record ``after_seq`` itself, so it need not be read back.
        own_attempts: The stream is one workflow run's alone and this batch is written by a local
            activity, so a place holding a different record was filled by an earlier attempt of the same
            workflow task, whose steps ran but never reached the history: that record stays, and the
            entries from there on are chained after the stream's last record (both attempts are told).
    """

    stream: str = Field(min_length=1, max_length=400, pattern=r"^\S+$")
    after_seq: int = Field(ge=0, le=MAX_SEQ)
    after_hash: str = Field(default="", pattern=r"^([0-9a-f]{64})?$")
    entries: list[AuditEntry] = Field(min_length=1, max_length=500)
    linked: bool = False
    own_attempts: bool = False


def same_step(stored: AuditEntry, entry: AuditEntry) -> bool:
    """The stored record tells the step the entry tells, wherever and whenever it stands in the chain."""
    keys = ("actor", "action", "subject", "input_hash", "result")
    return all(getattr(stored, k) == getattr(entry, k) for k in keys)


def same_event(stored: AuditEntry, entry: AuditEntry) -> bool:
    """The stored record says what the entry says, perhaps at another ``at`` (the same step, run again)."""
    keys = ("stream", "seq", "prev_hash")
    return same_step(stored, entry) and all(getattr(stored, k) == getattr(entry, k) for k in keys)


class HeadQuery(BaseModel):
    """Input of the ``audit.head`` activity."""

    stream: str


class StreamHead(BaseModel):
    """The last record of a stream: its seq and hash (0 and "" for an empty stream)."""

    stream: str
    seq: int = 0
    hash: str = ""
