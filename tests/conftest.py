"""Fixtures shared by every test: a clean environment, the corpora location."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests assert behaviour, not speed: no per-example deadline, so a busy CI machine cannot
# turn a slow example into a failure.
settings.register_profile("soar", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("soar")

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
FIXTURES = REPO / "fixtures"


@pytest.fixture(autouse=True)
def _clean_soar_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's SOAR_* settings."""
    for name in list(os.environ):
        if name.startswith("SOAR_"):
            monkeypatch.delenv(name)


@pytest.fixture
def corpora() -> Path:
    """The third-party corpora beside the repository; the test is skipped when they are absent."""
    if not CORPORA.is_dir():
        pytest.skip("../shared/corpora is not present")
    return CORPORA
