"""Rendered reports: the JSON, HTML and Markdown files of one stage under ``<reports dir>/<incident>/``."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

from soar.dora.document import make_document
from soar.dora.enums import Stage
from soar.dora.export import ExportFormat, export
from soar.dora.incident import DoraIncident
from soar.errors import InputError
from soar.incidents.models import ReportRecord, ReportStage

STAGE_OF: dict[ReportStage, Stage] = {
    "initial": Stage.INITIAL,
    "intermediate": Stage.INTERMEDIATE,
    "final": Stage.FINAL,
}
FORMATS = (ExportFormat.JSON, ExportFormat.HTML, ExportFormat.MD)
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


def report_dir(base: Path, incident_id: str) -> Path:
    """The folder of one incident's reports.

    Raises:
        InputError: the id could leave the folder (path separators, ``..``).
    """
    if not _SAFE_ID.match(incident_id) or ".." in incident_id:
        raise InputError("not a safe incident id for a file name", field=incident_id[:60])
    return base / incident_id


def _write(path: Path, data: bytes) -> None:
    """Write through a temporary file and rename, so a reader never sees half a report."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def render(
    incident: DoraIncident,
    stage: ReportStage,
    base: Path,
    rendered_at: datetime,
    reason: str,
    request_id: str | None = None,
) -> ReportRecord:
    """Build, validate and write the report of one stage in every format; the same inputs, the same bytes.

    Raises:
        AssessmentError: a field the stage makes mandatory is missing (names the template field).
    """
    document = make_document(incident, STAGE_OF[stage])
    folder = report_dir(base, incident.reference)
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for fmt in FORMATS:
        path = folder / f"{stage}.{fmt.value}"
        _write(path, export(document, fmt))
        files[fmt.value] = str(path)
    return ReportRecord(
        stage=stage,
        rendered_at=rendered_at,
        files=files,
        sha256=document.sha256,
        reason=reason,
        request_id=request_id,
    )
