"""Rendered reports compared with golden files; REGENERATE_GOLDEN=1 rewrites them (then review the diff)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from soar.dora.document import ReportDocument, make_document
from soar.dora.enums import Stage
from soar.dora.incident import load_any
from soar.dora.pdf import render_pdf
from soar.dora.render import render_html, render_markdown

REPO = Path(__file__).resolve().parents[3]
GOLDEN = REPO / "tests" / "golden" / "dora"
FIXTURES = REPO / "fixtures" / "dora"
CASES = {
    "initial": ("major-payments-outage.incident.json", Stage.INITIAL),
    "intermediate": ("major-payments-outage.incident.json", Stage.INTERMEDIATE),
    "final": ("major-payments-outage.incident.json", Stage.FINAL),
    "initial-malicious-access": ("malicious-access.assessment.json", Stage.INITIAL),
    "example": ("major-payments-outage.assessment.json", Stage.INITIAL),
}
DOCS = REPO / "docs" / "dora"
MARKER = "<!-- rendered below by soar dora report; regenerate with REGENERATE_GOLDEN=1 -->\n"


def document(name: str) -> ReportDocument:
    fixture, stage = CASES[name]
    return make_document(load_any(json.loads((FIXTURES / fixture).read_text())), stage)


def regenerate() -> None:
    """Rewrite every golden file from the current renders."""
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name in CASES:
        doc = document(name)
        (GOLDEN / f"{name}.md").write_text(render_markdown(doc), encoding="utf-8")
        (GOLDEN / f"{name}.html").write_text(render_html(doc), encoding="utf-8")
        (GOLDEN / f"{name}.json").write_text(doc.model_dump_json(indent=2) + "\n", encoding="utf-8")
    example = document("example")
    docs_md = DOCS / "example-initial-notification.md"
    preface = docs_md.read_text(encoding="utf-8").split(MARKER)[0]
    docs_md.write_text(preface + MARKER + "\n" + render_markdown(example), encoding="utf-8")
    (DOCS / "example-initial-notification.html").write_text(render_html(example), encoding="utf-8")


if os.environ.get("REGENERATE_GOLDEN") == "1":  # tests/conftest.py clears SOAR_* variables, not this one
    regenerate()


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("suffix", ["md", "html", "json"])
def test_render_matches_golden(name: str, suffix: str) -> None:
    doc = document(name)
    renderers: dict[str, Callable[[ReportDocument], str]] = {
        "md": render_markdown,
        "html": render_html,
        "json": lambda d: d.model_dump_json(indent=2) + "\n",
    }
    rendered = renderers[suffix](doc)
    expected = (GOLDEN / f"{name}.{suffix}").read_text(encoding="utf-8")
    assert rendered == expected, (
        f"{name}.{suffix} differs: run REGENERATE_GOLDEN=1 pytest {__file__} and review"
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_renders_carry_rationale_and_hash(name: str) -> None:
    doc = document(name)
    for text in (render_markdown(doc), render_html(doc)):
        assert doc.sha256 in text
        assert doc.classification.rule in text
        assert "RTS-C Art. 9(1)" in text


def test_pdf_is_a_pdf_with_the_reference() -> None:
    data = render_pdf(document("initial"))
    assert data.startswith(b"%PDF")
    assert data == render_pdf(document("initial"))  # reproducible bytes


def test_html_escapes_input() -> None:
    doc = document("initial")
    report = dict(doc.report)
    report["incident"] = {**report["incident"], "incidentDescription": "<script>alert(1)</script>"}
    from soar.dora.document import digest

    tampered = doc.model_copy(update={"report": report, "sha256": digest(report)})
    html = render_html(tampered)
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html


def test_docs_example_is_the_current_render() -> None:
    example = document("example")
    docs_md = (DOCS / "example-initial-notification.md").read_text(encoding="utf-8")
    assert docs_md.endswith(MARKER + "\n" + render_markdown(example))
    assert (DOCS / "example-initial-notification.html").read_text(encoding="utf-8") == render_html(example)
