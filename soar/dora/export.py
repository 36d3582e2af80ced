"""Read DORA input files and export report documents in each format (what the CLI calls)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

from soar.dora.assessment import Assessment
from soar.dora.document import ReportDocument, document_json
from soar.dora.incident import DoraIncident, load_any
from soar.dora.render import render_html, render_markdown
from soar.errors import AssessmentError


class ExportFormat(StrEnum):
    """The formats a report exports to."""

    JSON = "json"
    MD = "md"
    HTML = "html"
    PDF = "pdf"


def read_json(path: Path) -> Any:
    """Parse a JSON file, turning unreadable or malformed files into one-line errors naming the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AssessmentError(f"cannot read: {exc.strerror}", file=str(path)) from None
    except json.JSONDecodeError as exc:
        raise AssessmentError(f"not JSON: {exc.msg}", file=str(path), line=exc.lineno) from None


def read_source(path: Path) -> DoraIncident | Assessment:
    """An assessment or incident file, told apart by its keys; errors name the file and the field."""
    data = read_json(path)
    try:
        return load_any(data)
    except AssessmentError as exc:
        raise AssessmentError(exc.reason, file=str(path), field=exc.field) from None


def assessment_of(source: DoraIncident | Assessment) -> Assessment:
    """The assessment inside an incident, or the assessment itself."""
    return source.assessment if isinstance(source, DoraIncident) else source


def export(document: ReportDocument, fmt: ExportFormat) -> bytes:
    """The document rendered in one format, as bytes to write."""
    if fmt is ExportFormat.PDF:
        from soar.dora.pdf import render_pdf  # fpdf2 costs ~0.4 s to import: only when a PDF is asked for

        return render_pdf(document)
    renderers = {
        ExportFormat.JSON: document_json,
        ExportFormat.MD: render_markdown,
        ExportFormat.HTML: render_html,
    }
    return renderers[fmt](document).encode("utf-8")
