"""Loading telemetry into the search engine: templates first, then files or a generated scenario."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from soar.config import Settings
from soar.engines.search import SearchClient
from soar.telemetry.ingest import IngestReport, ProgressFn, ingest_lines, install_templates, refresh
from soar.telemetry.sources import Source

if TYPE_CHECKING:
    from soar.telemetry.scenario import Scenario


async def ingest_files(
    client: SearchClient,
    settings: Settings,
    source: Source,
    inputs: Mapping[str, Sequence[str]],
    *,
    progress: ProgressFn | None = None,
) -> IngestReport:
    """Ingest raw files of one source (name -> lines)."""
    await install_templates(client)
    report = IngestReport()
    for name, lines in inputs.items():
        part = await ingest_lines(
            client, source, lines, namespace=settings.namespace, file=name, progress=progress
        )
        report.merge(part)
    await refresh(client, settings.namespace)
    return report


def scenario_start(now: datetime | None = None) -> datetime:
    """Where a scenario ingested now begins: the last 24 hours, on a whole minute."""
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(second=0, microsecond=0)
    return moment - timedelta(hours=24)


def truth_path(settings: Settings, scenario: Scenario) -> Path:
    """Where the ground truth of an ingested scenario is kept."""
    return settings.data_dir / "scenarios" / f"{scenario.name}-{scenario.seed}.json"


def write_truth(settings: Settings, scenario: Scenario) -> Path:
    """Keep the scenario's ground truth (stories and their event ids) beside the data directory."""
    path = truth_path(settings, scenario)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "name": scenario.name,
        "seed": scenario.seed,
        "start": scenario.start.isoformat(),
        "end": scenario.end.isoformat(),
        "counts": {s.value: n for s, n in scenario.counts().items()},
        "stories": [story.model_dump(mode="json") for story in scenario.stories],
    }
    path.write_text(json.dumps(data, indent=1), "utf-8")
    return path


async def ingest_scenario(
    client: SearchClient,
    settings: Settings,
    scenario: Scenario,
    *,
    progress: ProgressFn | None = None,
) -> IngestReport:
    """Ingest every source of a generated scenario and keep its ground truth."""
    await install_templates(client)
    report = IngestReport()
    for source, lines in scenario.records.items():
        part = await ingest_lines(
            client,
            source,
            lines,
            namespace=settings.namespace,
            file=f"scenario:{scenario.name}",
            progress=progress,
        )
        report.merge(part)
    await refresh(client, settings.namespace)
    write_truth(settings, scenario)
    return report


def generate_scenario(name: str, seed: int, now: datetime | None = None) -> Scenario:
    """Generate a scenario covering the last 24 hours."""
    from soar.telemetry.scenario import generate

    return generate(name, seed=seed, start=scenario_start(now))
