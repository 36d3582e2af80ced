"""Every SigmaHQ Kubernetes audit, webserver, proxy and Okta rule compiles (at least 98%), on real templates."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from soar.rules.compile import compile_rules
from soar.telemetry.sources import Source
from soar.telemetry.templates import field_types as template_field_types

_OURS = re.compile(r"^\s+(product:\s*(kubernetes|okta)|category:\s*(webserver|proxy))\b", re.MULTILINE)


def _field_types(source: Source) -> Mapping[str, str]:
    try:
        return template_field_types(source)
    except OSError:  # a template not written yet: every field is unmapped (keyword)
        return {}


@pytest.mark.corpora
def test_sigmahq_rules_for_our_sources_compile(corpora: Path) -> None:
    root = corpora / "sigmahq"
    files = [
        path
        for folder in sorted(root.glob("rules*"))
        for path in sorted(folder.rglob("*.yml"))
        if _OURS.search(path.read_text("utf-8", errors="replace"))
    ]
    assert len(files) > 100
    result = compile_rules(files, field_types=_field_types)
    for error in result.errors:
        print(f"FAILED {error}")
    compiled = len(result.rules) + len(result.correlations)
    rate = compiled / (compiled + len(result.errors))
    print(f"{compiled} of {compiled + len(result.errors)} compiled ({rate:.1%})")
    assert rate >= 0.98
