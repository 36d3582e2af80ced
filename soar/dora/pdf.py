"""Render an exported report as PDF with fpdf2 (pure Python, installed from PyPI, no system download)."""

from __future__ import annotations

from datetime import UTC, datetime

from fpdf import FPDF

from soar.dora.document import ReportDocument
from soar.dora.render import context

_REPLACEMENTS = {"—": "-", "–": "-", "≥": ">=", "≤": "<=", "’": "'", "“": '"', "”": '"', "…": "..."}
# A fixed creation date keeps the bytes reproducible; the content hash, not the file date, is the evidence.
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _latin1(text: str) -> str:
    """The PDF core fonts cover Latin-1 only: map common punctuation, replace the rest with '?'."""
    for old, new in _REPLACEMENTS.items():
        text = text.replace(old, new)
    return text.encode("latin-1", "replace").decode("latin-1")


def render_pdf(document: ReportDocument) -> bytes:
    """The report as PDF bytes: header, classification rationale, deadlines, every field of the stage."""
    ctx = context(document)
    pdf = FPDF(format="A4")
    pdf.set_creation_date(_EPOCH)
    pdf.set_title(_latin1(f"DORA {ctx['title']} {document.reference}"))
    pdf.add_page()
    width = pdf.epw

    def line(text: str, size: int = 9, style: str = "") -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(width, 5, _latin1(text), new_x="LMARGIN", new_y="NEXT")

    line(f"DORA major ICT-related incident - {ctx['title']}", 14, "B")
    line(f"Reference {document.reference} - SHA-256 {document.sha256}")
    line("Classification (Delegated Regulation (EU) 2024/1772)", 11, "B")
    for sentence in document.classification.explanation:
        line(f"- {sentence}")
    line("Deadlines (Delegated Regulation (EU) 2025/301, Art. 5)", 11, "B")
    for report, due, why, status in ctx["deadlines"]:
        line(f"- {report}: {due} ({status}). {why}")
    for section in ctx["sections"]:
        line(f"{section.number}. {section.title}", 11, "B")
        for row in section.rows:
            line(f"{row.number} {row.label}: {row.value}")
    return bytes(pdf.output())
