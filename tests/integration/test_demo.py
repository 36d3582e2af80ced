"""The demo end to end on the small scenario: embedded engines started and stopped, data in, alerts out."""

from __future__ import annotations

from pathlib import Path

import pytest

from soar.config import load_settings
from soar.demo import run_demo
from soar.engines.embedded import EmbeddedSearch, EmbeddedTemporal, free_port
from tests.conftest import REPO


@pytest.mark.timeout(600)  # the whole chain: two engines, ingest, detection, playbooks (~90 s on 2 cores)
async def test_demo_runs_the_chain_and_leaves_no_engine_behind(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path / "data",
        embedded={"search_port": free_port(), "temporal_port": free_port(), "temporal_ui_port": free_port()},
    )
    stages: list[str] = []
    # The small scenario's outage is too thin to be a major incident: the report stage does not wait for one
    # (the default scenario's is checked by `make demo`).
    result = await run_demo(
        settings,
        scenario="small",
        rules=REPO / "detections",
        on_stage=lambda name, _: stages.append(name),
        report_wait=0,
    )
    summary = result.as_dict()
    assert stages == [
        "engines_up",
        "generate",
        "ingest",
        "detect",
        "triage",
        "containment",
        "dora_report",
        "engines_down",
    ]
    assert summary["playbooks"]["started"] == summary["playbooks"]["completed"] > 0
    assert summary["playbooks"]["failed"] == 0
    assert summary["incidents"] > 0
    assert summary["containment"]["approved"] == summary["containment"]["applied"]
    assert summary["indexed"] == summary["events"] > 1000
    assert summary["dead_lettered"] == 0
    assert summary["alerts"] > 0
    assert summary["detection"]["rules"] >= 40
    assert summary["truth"].endswith("small-1337.json")
    assert EmbeddedSearch(settings).state() is None
    assert EmbeddedTemporal(settings).state() is None
