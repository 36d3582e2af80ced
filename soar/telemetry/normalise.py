"""Turning raw lines of any source into ECS documents or dead letters; nothing escapes, nothing is lost."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from soar.errors import NormalisationError
from soar.telemetry.ecs import format_timestamp, validate_core
from soar.telemetry.sources import Source

# A normaliser takes one raw record (a line of text as the source wrote it) and returns the ECS
# document as a dict; it raises NormalisationError naming the field when the record is unusable.
NormaliserFn = Callable[[str], dict[str, Any]]


@dataclass(frozen=True)
class Normalised:
    """A good record: its ECS document and where it came from."""

    document: dict[str, Any]
    line: int


@dataclass(frozen=True)
class DeadLetter:
    """A record that could not be normalised (or indexed), with why, kept whole."""

    source: str
    raw: str
    error: str
    line: int | None = None
    file: str | None = None

    def to_source(self, now: datetime | None = None) -> dict[str, Any]:
        """The document written to the dead-letter index."""
        doc: dict[str, Any] = {
            "@timestamp": format_timestamp(now or datetime.now(UTC)),
            "event": {"kind": "pipeline_error", "dataset": "soar.deadletter", "original": self.raw},
            "soar": {"deadletter": {"source": self.source, "error": self.error}},
            "error": {"message": self.error},
        }
        if self.line is not None:
            doc["soar"]["deadletter"]["line"] = self.line
        if self.file is not None:
            doc["soar"]["deadletter"]["file"] = self.file
        return doc


def _registry() -> dict[Source, NormaliserFn]:
    # Imported here so that importing this module stays cheap and free of cycles.
    from soar.telemetry.normalisers import NORMALISERS

    return NORMALISERS


def redact_raw(source: Source, raw: str) -> str:
    """The raw record as it may be stored when it cannot be normalised: secrets removed where a source has them."""
    from soar.telemetry.normalisers import RAW_REDACTORS

    redactor = RAW_REDACTORS.get(source)
    if redactor is None:
        return raw
    try:
        return redactor(raw)
    except Exception:  # noqa: BLE001 - a redactor bug must not let the unredacted record through
        return "[REDACTED] record that could not be checked for secrets"


def normaliser_for(source: Source | str) -> NormaliserFn:
    """The normaliser of a source, e.g. ``normaliser_for("okta")``."""
    try:
        return _registry()[Source(source)]
    except (ValueError, KeyError):
        choices = ", ".join(s.value for s in Source)
        raise NormalisationError(
            f"unknown source {source!r} (choose from {choices})", field="source"
        ) from None


def normalise_record(source: Source | str, raw: str) -> dict[str, Any]:
    """Normalise one raw record and validate the ECS core.

    Raises:
        NormalisationError: the record is unusable; nothing else escapes.
    """
    return _checked(normaliser_for(source), raw)


def _checked(fn: NormaliserFn, raw: str) -> dict[str, Any]:
    try:
        document = fn(raw)
        validate_core(document)
    except NormalisationError:
        raise
    except Exception as exc:  # noqa: BLE001 - a normaliser bug must dead-letter the record, not stop the ingest
        raise _failure(exc) from None
    return document


def _failure(exc: Exception) -> NormalisationError:
    """Why a record could not be normalised, as one NormalisationError."""
    if isinstance(exc, NormalisationError):
        return exc
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return NormalisationError(f"invalid ECS document: {err['msg']}", field=where)
    return NormalisationError(f"{type(exc).__name__}: {exc}")


def normalise_lines(
    source: Source | str, lines: Iterable[str], *, file: str | None = None
) -> Iterator[Normalised | DeadLetter]:
    """Normalise each non-blank line; line numbers are 1-based and count blank lines too."""
    fn = normaliser_for(source)  # fail fast on an unknown source, before reading any line
    src = Source(source)
    name = src.value
    for number, line in enumerate(lines, start=1):
        raw = line.rstrip("\r\n")
        if not raw.strip():
            continue
        try:  # _checked, inline: this loop is the ingest's hot path
            document = fn(raw)
            validate_core(document)
        except Exception as exc:  # noqa: BLE001 - a normaliser bug must dead-letter the record, not stop the ingest
            error = str(_failure(exc))
            yield DeadLetter(source=name, raw=redact_raw(src, raw), error=error, line=number, file=file)
            continue
        yield Normalised(document, number)
