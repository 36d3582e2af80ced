"""Render an exported report as Markdown and HTML (jinja2 templates) and PDF (fpdf2, pure Python)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from soar.dora.deadlines import Deadline
from soar.dora.document import ReportDocument
from soar.dora.enums import Stage
from soar.dora.fields import FIELDS, SECTIONS, value_of
from soar.dora.fieldspec import FieldSpec, criteria

TEMPLATES = Path(__file__).parent / "templates"
STAGE_TITLES: dict[Stage, str] = {
    Stage.INITIAL: "Initial notification",
    Stage.INTERMEDIATE: "Intermediate report",
    Stage.FINAL: "Final report",
    Stage.RECLASSIFIED: "Major incident reclassified as non-major",
}


@dataclass(frozen=True)
class Row:
    """One template field as shown to a reader."""

    number: str
    label: str
    value: str
    rule: str


@dataclass(frozen=True)
class Section:
    """One section of the template (1 general, 2 initial, 3 intermediate, 4 final)."""

    number: str
    title: str
    rows: tuple[Row, ...]


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        flat = [v for item in value for v in (item if isinstance(item, list) else [item])]
        return "; ".join(_text(v) for v in flat) or "—"
    return str(value)


def _row(doc: dict[str, Any], spec: FieldSpec) -> Row:
    if spec.criterion is not None and spec.criterion.value not in criteria(doc):
        value = "not applicable: criterion not selected in 2.5"
    else:
        value = _text(value_of(doc, spec))
    return Row(number=spec.number, label=spec.label, value=value, rule=spec.rule_text)


def sections(document: ReportDocument) -> tuple[Section, ...]:
    """The template sections of the document's stage, every field of them with its value or a dash."""
    shown = []
    for number, title in SECTIONS:
        if int(number) > max(document.stage.order, 1) + 1 and number != "1":
            continue
        rows = tuple(_row(document.report, s) for s in FIELDS if s.number.split(".")[0] == number)
        shown.append(Section(number=number, title=title, rows=rows))
    return tuple(shown)


def _due(deadline: Deadline) -> str:
    return deadline.due.isoformat() if deadline.due else "not yet running"


def context(document: ReportDocument) -> dict[str, Any]:
    """The values the Markdown and HTML templates read."""
    c = document.classification
    return {
        "doc": document,
        "title": STAGE_TITLES[document.stage],
        "verdict": "Major ICT-related incident" if c.major else "Not a major ICT-related incident",
        "classification": c,
        "deadlines": [(d.report, _due(d), d.explanation, d.status) for d in document.deadlines.all()],
        "sections": sections(document),
    }


def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def md_cell(value: str) -> str:
    """A value safe inside a Markdown table cell."""
    return value.replace("|", "\\|").replace("\n", " ")


def render_markdown(document: ReportDocument) -> str:
    """The report as Markdown."""
    env = _environment()
    env.filters["cell"] = md_cell
    return env.get_template("report.md.j2").render(**context(document))


def render_html(document: ReportDocument) -> str:
    """The report as a standalone HTML page."""
    return _environment().get_template("report.html.j2").render(**context(document))
