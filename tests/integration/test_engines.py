"""The embedded engines for real: start, health, idempotence, status, stop, and the CLI around them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from soar.cli.app import app
from soar.config import Settings, load_settings
from soar.engines.embedded import EmbeddedSearch, EmbeddedTemporal, free_port
from soar.engines.session import search_session, temporal_session
from soar.errors import EngineStartError


@pytest.fixture
def engine_settings(tmp_path: Path) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        embedded={"search_port": free_port(), "temporal_port": free_port(), "temporal_ui_port": free_port()},
    )


async def test_search_engine_lifecycle(engine_settings: Settings) -> None:
    engine = EmbeddedSearch(engine_settings)
    assert engine.state() is None
    state = await engine.start()
    try:
        assert await engine.healthy()
        assert (await engine.start()).pid == state.pid  # idempotent: one process
        assert engine.state_file.is_file()
    finally:
        assert await engine.stop()
    assert engine.state() is None
    assert not await engine.healthy()
    assert not await engine.stop()


async def test_temporal_dev_server_lifecycle_persists_to_sqlite(engine_settings: Settings) -> None:
    engine = EmbeddedTemporal(engine_settings)
    await engine.start()
    try:
        assert await engine.healthy()
        assert (engine.dir / "temporal.sqlite").is_file()
    finally:
        await engine.stop()
    assert engine.state() is None


async def test_stale_state_file_is_ignored(engine_settings: Settings) -> None:
    engine = EmbeddedSearch(engine_settings)
    engine.dir.mkdir(parents=True)
    engine.state_file.write_text('{"name":"search","pid":999999,"address":"x","started_at":0}')
    assert engine.state() is None
    assert not engine.state_file.exists()


async def test_port_taken_by_someone_else_is_a_clear_error(engine_settings: Settings) -> None:
    first = EmbeddedSearch(engine_settings)
    await first.start()
    try:
        other = load_settings(
            data_dir=engine_settings.data_dir / "other", embedded=engine_settings.embedded.model_dump()
        )
        with pytest.raises(EngineStartError, match="in use"):
            await EmbeddedSearch(other).start()
    finally:
        await first.stop()


async def test_sessions_start_and_stop_engines_for_their_own_duration(engine_settings: Settings) -> None:
    async with search_session(engine_settings) as client:
        assert client.is_opensearch
        assert (await client.es.info())["version"]["distribution"] == "opensearch"
    assert EmbeddedSearch(engine_settings).state() is None
    async with temporal_session(engine_settings) as temporal:
        assert await temporal.service_client.check_health()
    assert EmbeddedTemporal(engine_settings).state() is None


def test_cli_up_status_down(engine_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOAR_DATA_DIR", str(engine_settings.data_dir))
    for key, value in engine_settings.embedded.model_dump().items():
        monkeypatch.setenv(f"SOAR_EMBEDDED__{key.upper()}", str(value))
    runner = CliRunner()
    try:
        up = runner.invoke(app, ["engines", "up", "--json"])
        assert up.exit_code == 0, up.output
        status = json.loads(
            runner.invoke(app, ["engines", "status", "--json"]).stdout.strip().splitlines()[-1]
        )
        assert status["search"]["running"] is True
        assert status["search"]["kind"] == "osmem"
        assert status["search"]["url"] == f"http://127.0.0.1:{engine_settings.embedded.search_port}"
        assert status["temporal"]["running"] is True
        assert status["temporal"]["address"] == f"127.0.0.1:{engine_settings.embedded.temporal_port}"
        assert status["temporal"]["ui"].endswith(str(engine_settings.embedded.temporal_ui_port))
    finally:
        down = runner.invoke(app, ["engines", "down"])
    assert down.exit_code == 0
    status = json.loads(runner.invoke(app, ["engines", "status", "--json"]).stdout.strip().splitlines()[-1])
    assert status["search"]["running"] is False
    assert status["temporal"]["running"] is False
