"""The demo: the whole chain on embedded engines, stage by stage, each stage timed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soar.config import Settings
from soar.detect.run import run_once
from soar.engines.embedded import EmbeddedSearch, EmbeddedTemporal
from soar.engines.search import connect_search
from soar.engines.workflow import connect_temporal
from soar.telemetry.ingest import IngestReport, ProgressFn
from soar.telemetry.loading import generate_scenario, ingest_scenario, truth_path

StageFn = Callable[[str, float], None]


@dataclass
class DemoResult:
    """What the demo did: counts and the duration of each stage in seconds."""

    events: int = 0
    ingest: IngestReport = field(default_factory=IngestReport)
    stories: int = 0
    truth_file: str = ""
    detection: dict[str, int] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON summary the demo prints last."""
        return {
            "events": self.events,
            "indexed": self.ingest.total_indexed,
            "dead_lettered": sum(
                c.dead_lettered for n, c in self.ingest.indices.items() if n.startswith("logs-")
            ),
            "stories": self.stories,
            "alerts": self.detection.get("alerts_created", 0),
            "detection": self.detection,
            "truth": self.truth_file,
            "indices": self.ingest.as_dict(),
            "stages": {name: round(seconds, 3) for name, seconds in self.stages.items()},
        }


@asynccontextmanager
async def _stage(result: DemoResult, name: str, on_stage: StageFn | None) -> AsyncIterator[None]:
    started = time.perf_counter()
    yield
    result.stages[name] = time.perf_counter() - started
    if on_stage is not None:
        on_stage(name, result.stages[name])


async def run_demo(
    settings: Settings,
    *,
    scenario: str = "default",
    seed: int = 1337,
    rules: Path | None = None,
    progress: Callable[[int], ProgressFn] | None = None,
    on_stage: StageFn | None = None,
) -> DemoResult:
    """Run the demo end to end; engines that were not running are started and stopped again.

    Detection runs the rules of ``rules`` when given (``detections/`` in a checkout of the repository).
    """
    result = DemoResult()
    search, temporal = EmbeddedSearch(settings), EmbeddedTemporal(settings)
    started = [e for e in (search, temporal) if e.state() is None and not _configured(settings, e)]
    try:
        async with _stage(result, "engines_up", on_stage):
            for engine in started:
                await engine.start()
        async with _stage(result, "generate", on_stage):
            generated = generate_scenario(scenario, seed)
            result.events = sum(generated.counts().values())
            result.stories = len(generated.stories)
        client = await connect_search(settings.search, None if settings.search.configured else search.address)
        async with client:
            async with _stage(result, "ingest", on_stage):
                result.ingest = await ingest_scenario(
                    client, settings, generated, progress=progress(result.events) if progress else None
                )
                result.truth_file = str(truth_path(settings, generated))
            workflows = await connect_temporal(
                settings.temporal, None if settings.temporal.configured else temporal.address
            )
            if rules is not None:
                async with _stage(result, "detect", on_stage):
                    result.detection = (await run_once(client, workflows, settings, [rules])).totals()
    finally:
        async with _stage(result, "engines_down", on_stage):
            for engine in reversed(started):
                await engine.stop()
    return result


def _configured(settings: Settings, engine: EmbeddedSearch | EmbeddedTemporal) -> bool:
    return settings.search.configured if isinstance(engine, EmbeddedSearch) else settings.temporal.configured
