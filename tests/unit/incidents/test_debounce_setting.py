"""The incident debounce comes from settings; the demo shortens it only when nobody set it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from soar.actions.incident import policy_of
from soar.config import load_settings
from soar.demo import with_demo_debounce
from soar.errors import ConfigError


def test_debounce_from_the_environment_reaches_the_incident_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert policy_of(load_settings()).debounce == timedelta(minutes=1)
    monkeypatch.setenv("SOAR_RESPONSE__INCIDENT_DEBOUNCE", "90s")
    settings = load_settings()
    assert policy_of(settings).debounce == timedelta(seconds=90)
    assert "incident_debounce" in settings.response.model_fields_set


def test_a_zero_debounce_is_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOAR_RESPONSE__INCIDENT_DEBOUNCE", "0s")
    with pytest.raises(ConfigError, match=r"response\.incident_debounce"):
        load_settings()


def test_the_demo_debounce_is_seconds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = with_demo_debounce(load_settings())
    assert policy_of(settings).debounce == timedelta(seconds=5)
