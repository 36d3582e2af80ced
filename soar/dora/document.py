"""A report as exported: the IR JSON of its stage, the classification rationale, deadlines and a SHA-256."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from soar.dora.assessment import Assessment, raise_from_validation
from soar.dora.build import build_report
from soar.dora.classification import Classification, classify
from soar.dora.deadlines import Deadlines, compute_deadlines
from soar.dora.enums import Stage
from soar.dora.incident import DoraIncident
from soar.dora.report_models import parse_report
from soar.errors import AssessmentError


def canonical_json(data: Any) -> bytes:
    """The canonical bytes hashed for a report: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(report: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of an IR report."""
    return hashlib.sha256(canonical_json(report)).hexdigest()


class ReportDocument(BaseModel):
    """An exported report.

    ``report`` is the IR JSON to submit (validated against the model of ``stage``); ``sha256`` is the SHA-256
    of its canonical JSON (:func:`canonical_json`), so anyone can check the submitted content is the one
    reviewed. ``classification`` and ``deadlines`` explain the report; they are not part of the submission.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    stage: Stage
    reference: str
    report: dict[str, Any]
    sha256: str
    classification: Classification
    deadlines: Deadlines

    @model_validator(mode="after")
    def _valid(self) -> ReportDocument:
        parse_report(self.report, self.stage)
        if digest(self.report) != self.sha256:
            raise AssessmentError("does not match the SHA-256 of the report content", field="sha256")
        return self


def make_document(
    source: DoraIncident | Assessment, stage: Stage, now: datetime | None = None
) -> ReportDocument:
    """Build, validate and hash the report of a stage.

    Args:
        source: An incident, or an assessment carrying ``reference``, ``description`` and ``entity``.
        stage: The report stage.
        now: Time to judge deadlines against (the renders leave it out so they stay reproducible).

    Returns:
        The document.

    Raises:
        AssessmentError: naming the missing or invalid template field.
    """
    incident = source if isinstance(source, DoraIncident) else DoraIncident.from_assessment(source)
    report = build_report(incident, stage).to_ir()
    classification: Classification = classify(incident.assessment)
    deadlines = compute_deadlines(incident.assessment, incident.submissions, now)
    return ReportDocument(
        stage=stage,
        reference=incident.reference,
        report=report,
        sha256=digest(report),
        classification=classification,
        deadlines=deadlines,
    )


def load_document(data: Any) -> ReportDocument:
    """Validate an exported report document (the JSON written by ``soar dora report --format json``).

    Raises:
        AssessmentError: naming the template field number, or the envelope key, of the first problem.
    """
    try:
        return ReportDocument.model_validate(data)
    except ValidationError as exc:
        raise raise_from_validation(exc) from None


def document_json(doc: ReportDocument) -> str:
    """The document as indented, key-stable JSON text."""
    return doc.model_dump_json(indent=2) + "\n"
