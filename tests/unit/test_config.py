from __future__ import annotations

from pathlib import Path

import pytest

from soar.config import SearchFlavour, load_settings
from soar.errors import ConfigError


def test_nothing_configured_means_embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert not settings.search.configured
    assert not settings.temporal.configured
    assert settings.data_dir == Path(".soar")


def test_environment_nested_and_comma_separated_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOAR_SEARCH__URLS", "https://es1:9200, https://es2:9200")
    monkeypatch.setenv("SOAR_SEARCH__API_KEY", "c2VjcmV0OmtleQ==")
    monkeypatch.setenv("SOAR_SEARCH__FLAVOUR", "elasticsearch")
    monkeypatch.setenv("SOAR_TEMPORAL__ADDRESS", "temporal.bank.internal:7233")
    monkeypatch.setenv("SOAR_TEMPORAL__NAMESPACE", "soc")
    settings = load_settings()
    assert settings.search.urls == ["https://es1:9200", "https://es2:9200"]
    assert settings.search.flavour is SearchFlavour.ELASTICSEARCH
    assert settings.temporal.address == "temporal.bank.internal:7233"
    assert settings.temporal.namespace == "soc"
    # The secret is usable, but never printed.
    assert settings.search.api_key is not None
    assert settings.search.api_key.get_secret_value() == "c2VjcmV0OmtleQ=="
    assert "c2VjcmV0OmtleQ" not in repr(settings)
    assert "c2VjcmV0OmtleQ" not in settings.model_dump_json()


def test_toml_file_and_environment_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "soar.toml").write_text(
        'namespace = "prod"\n[search]\nurls = ["https://toml:9200"]\nverify_certs = false\n'
        '[temporal]\naddress = "toml:7233"\n'
    )
    monkeypatch.setenv("SOAR_TEMPORAL__ADDRESS", "env:7233")
    settings = load_settings()
    assert settings.namespace == "prod"
    assert settings.search.urls == ["https://toml:9200"]
    assert settings.search.verify_certs is False
    assert settings.temporal.address == "env:7233"  # environment wins over the file


def test_bad_value_names_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOAR_EMBEDDED__SEARCH_PORT", "not-a-port")
    with pytest.raises(ConfigError, match=r"embedded\.search_port"):
        load_settings()


def test_unknown_key_in_toml_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[search]\nurl = 'https://typo:9200'\n")
    with pytest.raises(ConfigError, match=r"search\.url"):
        load_settings(config)


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")
