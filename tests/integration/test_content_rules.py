"""Every content rule in ``detections/`` against its positive and negative events, in the embedded engine.

This is ``soar rules test`` as a test: it runs in ``make test``. A rule without test events fails.
"""

from __future__ import annotations

import pytest

from soar.engines.search import SearchClient
from soar.rules.loader import rule_files
from soar.rules.lock import LOCK_FILE, read_lock
from soar.rules.ruletest import run_rule_tests
from tests.conftest import FIXTURES, REPO

DETECTIONS = REPO / "detections"

pytestmark = [
    pytest.mark.engines,
    pytest.mark.skipif(
        not rule_files([DETECTIONS]) if DETECTIONS.is_dir() else True, reason="no content rules yet"
    ),
]


async def test_every_content_rule_passes_its_positive_and_negative_events(search: SearchClient) -> None:
    report = await run_rule_tests(
        search,
        [DETECTIONS],
        rules_root=DETECTIONS,
        fixtures_root=FIXTURES / "detections",
        lock=read_lock(DETECTIONS / LOCK_FILE),
    )
    failures = [f"{r.path}: {r.rule_id}: {p}" for r in report.results for p in r.problems]
    assert not report.compile_errors, report.compile_errors
    assert not failures, "\n".join(failures)
    assert report.results
