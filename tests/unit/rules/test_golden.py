"""Compiled queries of the fixture rules against their goldens (REGENERATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from soar.rules.compile import compile_rules
from tests.unit.rules.conftest import GOLDEN, RULES, field_types

FIXTURES = sorted(RULES.glob("*.yml"))


def _render(path: Path) -> str:
    result = compile_rules([path], field_types=field_types)
    assert not result.errors, [str(e) for e in result.errors]
    payload = {
        "rules": [
            {k: v for k, v in rule.model_dump(mode="json").items() if k not in {"path"}}
            for rule in result.rules
        ],
        "correlations": [
            {
                **{k: v for k, v in c.model_dump(mode="json").items() if k not in {"path", "rules"}},
                "rules": [r.rule_id for r in c.rules],
            }
            for c in result.correlations
        ],
    }
    return json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_compiled_query_matches_golden(path: Path) -> None:
    golden = GOLDEN / f"{path.stem}.json"
    rendered = _render(path)
    if os.environ.get("REGENERATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(rendered, "utf-8")
    assert golden.read_text("utf-8") == rendered
