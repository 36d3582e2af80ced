"""Suppression options, tuple values and ids; the ``detect`` settings block (soar.toml, environment)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from soar.config import load_settings
from soar.detect.models import SweepInput
from soar.detect.settings import DetectSettings, RuleOptions
from soar.detect.suppression import suppressed_alert_id, suppression_key, tuple_values
from soar.errors import ConfigError, RuleError

T = datetime(2026, 11, 23, 12, tzinfo=UTC)


def test_suppress_option_is_read_from_the_rule_and_survives_serialisation() -> None:
    options = RuleOptions().override(
        {"suppress": {"by": ["user.name", "source.ip"], "for": "1h"}}, file="r.yml", rule_id="r1"
    )
    assert options.suppress is not None
    assert (options.suppress.for_, options.suppress.missing) == (timedelta(hours=1), "suppress")
    # The sweep's input crosses Temporal as JSON and comes back the same.
    sweep = SweepInput(group_id="okta", rules_path=["x"], settings=DetectSettings(rules=options))
    assert SweepInput.model_validate_json(sweep.model_dump_json()) == sweep
    # Overriding another option keeps the suppression.
    assert options.override({"max_alerts": 3}, file="r.yml", rule_id="r1").suppress == options.suppress


@pytest.mark.parametrize(
    ("suppress", "message"),
    [
        ({"by": [], "for": "1h"}, "soar.suppress.by"),
        ({"by": ["a", "b", "c", "d"], "for": "1h"}, "soar.suppress.by"),
        ({"by": ["a"], "for": "soon"}, "not a duration"),
        ({"by": ["a"], "for": "0s"}, "must be positive"),
        ({"by": ["a"]}, "soar.suppress.for"),
        ({"by": ["a"], "for": "1h", "missing": "drop"}, "soar.suppress.missing"),
    ],
)
def test_bad_suppression_names_the_rule_and_key(suppress: dict[str, object], message: str) -> None:
    with pytest.raises(RuleError) as caught:
        RuleOptions().override({"suppress": suppress}, file="r.yml", rule_id="r1")
    assert message in str(caught.value)
    assert "rule r1" in str(caught.value)


def test_tuple_values_missing_and_multi_valued_fields() -> None:
    doc = {"user": {"name": "u", "roles": ["b", "a"]}, "source": {"ip": "10.0.0.1"}}
    assert tuple_values(doc, ["user.name", "source.ip"]) == ["u", "10.0.0.1"]
    assert tuple_values(doc, ["user.roles", "host.name"]) == [["a", "b"], None]


def test_ids_are_deterministic_and_distinguish_rule_tuple_and_bucket_start() -> None:
    key = suppression_key("r1", ["u", "10.0.0.1"])
    assert key == suppression_key("r1", ["u", "10.0.0.1"])
    assert len({key, suppression_key("r2", ["u", "10.0.0.1"]), suppression_key("r1", ["u", None])}) == 3
    assert suppression_key("r1", ["a,b"]) != suppression_key("r1", [["a", "b"]])
    first = suppressed_alert_id("r1", key, T)
    assert first == suppressed_alert_id("r1", key, T)
    assert first != suppressed_alert_id("r1", key, T + timedelta(milliseconds=1))
    assert first != suppressed_alert_id("r2", key, T)


def test_detect_block_from_soar_toml_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "soar.toml").write_text(
        '[detect]\npage_size = 200\nexceptions = "content/exceptions"\n'
        '[detect.rules]\ninterval = "15m"\nmax_alerts = 100\n'
        '[detect.rules.suppress]\nby = ["user.name"]\nfor = "2h"\n'
    )
    monkeypatch.setenv("SOAR_DETECT__RULES__MAX_ALERTS", "50")
    monkeypatch.setenv("SOAR_DETECT__CATCHUP_WINDOW", "2d")
    detect = load_settings().detect
    assert (detect.page_size, detect.catchup_window) == (200, timedelta(days=2))
    assert (detect.rules.interval, detect.rules.max_alerts) == (timedelta(minutes=15), 50)  # env wins
    assert detect.rules.suppress is not None
    assert detect.rules.suppress.for_ == timedelta(hours=2)
    assert detect.exceptions_dir([Path("detections")]) == Path("content/exceptions")


def test_a_bad_detect_setting_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOAR_DETECT__RULES__INTERVAL", "often")
    with pytest.raises(ConfigError, match=r"detect\.rules\.interval"):
        load_settings()


def test_the_exceptions_folder_defaults_to_the_rules_folder(tmp_path: Path) -> None:
    rules = tmp_path / "detections"
    (rules / "idp").mkdir(parents=True)
    (rules / "idp" / "r.yml").write_text("x: 1\n")
    detect = DetectSettings()
    assert detect.exceptions_dir([rules]) == rules / "exceptions"
    assert detect.exceptions_dir([rules / "idp" / "r.yml"]) == rules / "idp" / "exceptions"
    assert detect.exceptions_dir([]) == Path("detections/exceptions")
