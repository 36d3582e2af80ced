"""The demo: the whole chain on embedded engines, stage by stage, each stage timed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from temporalio.client import Client

from soar.config import Settings
from soar.demo_response import (
    DispatchSummary,
    approve_pending,
    await_initial_report,
    await_playbooks,
    await_state,
)
from soar.detect.run import run_once
from soar.dora.assessment import Contact, EntityProfile
from soar.engines.embedded import EmbeddedSearch, EmbeddedTemporal
from soar.engines.search import SearchClient, connect_search
from soar.engines.workflow import connect_temporal
from soar.heap import freeze_startup_heap
from soar.response.models import ActionState
from soar.telemetry.ingest import IngestReport, ProgressFn
from soar.telemetry.loading import generate_scenario, ingest_scenario, truth_path
from soar.worker import load_response_config, soar_worker

StageFn = Callable[[str, float], None]


@dataclass
class ResponseSummary:
    """What the response side did in the demo."""

    dispatch: DispatchSummary = field(default_factory=DispatchSummary)
    approved: int = 0
    applied: int = 0
    incidents: int = 0
    major: int = 0
    reports: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The response part of the demo's JSON summary."""
        return {
            "incidents": self.incidents,
            "major_incidents": self.major,
            "playbooks": {
                "started": self.dispatch.started,
                "completed": self.dispatch.completed,
                "failed": len(self.dispatch.failed),
                "containment_proposed": len(self.dispatch.proposed),
            },
            "containment": {"approved": self.approved, "applied": self.applied},
            "reports": self.reports,
        }


@dataclass
class DemoResult:
    """What the demo did: counts and the duration of each stage in seconds."""

    events: int = 0
    ingest: IngestReport = field(default_factory=IngestReport)
    stories: int = 0
    truth_file: str = ""
    detection: dict[str, int] = field(default_factory=dict)
    response: ResponseSummary | None = None
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
            **(self.response.as_dict() if self.response else {"incidents": 0, "reports": []}),
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
    report_wait: float = 180.0,
) -> DemoResult:
    """Run the demo end to end; engines that were not running are started and stopped again.

    Detection runs the rules of ``rules`` when given (``detections/`` in a checkout of the repository), then
    the response chain, which waits up to ``report_wait`` seconds for a DORA initial notification (0: it
    does not wait, for scenarios without a major incident).

    Raises:
        SoarError: no initial notification within ``report_wait`` seconds (when it is not 0).
    """
    result = DemoResult()
    if settings.response.dora.clients_total is None:
        settings = with_demo_bank(settings, scenario)
    if "incident_debounce" not in settings.response.model_fields_set:
        settings = with_demo_debounce(settings)
    search, temporal = EmbeddedSearch(settings), EmbeddedTemporal(settings)
    started = [e for e in (search, temporal) if e.state() is None and not _configured(settings, e)]
    try:
        async with _stage(result, "engines_up", on_stage):
            for engine in started:
                if isinstance(engine, EmbeddedTemporal):
                    engine.forget()  # the search engine starts empty: so must the workflows
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
                result.response = await respond(
                    client, workflows, settings, rules, result, on_stage, report_wait
                )
    finally:
        async with _stage(result, "engines_down", on_stage):
            for engine in reversed(started):
                await engine.stop()
    return result


async def respond(
    search: SearchClient,
    temporal: Client,
    settings: Settings,
    rules: Path,
    result: DemoResult,
    on_stage: StageFn | None,
    report_wait: float,
) -> ResponseSummary:
    """Detection with hand-over, triage, four-eyes containment and the DORA initial notification, timed."""
    config = load_response_config(settings)
    response = ResponseSummary()
    freeze_startup_heap()  # as `soar worker` does: the sweeps and playbooks run in this process
    async with soar_worker(settings, search, temporal, config=config) as worker, worker:
        async with _stage(result, "detect", on_stage):
            summary = await run_once(
                search, temporal, settings, [rules], settings.detect, routing=config.response.routing
            )
            result.detection = summary.totals()
        async with _stage(result, "triage", on_stage):
            response.dispatch = await await_playbooks(temporal, search, settings.namespace)
        async with _stage(result, "containment", on_stage):
            approved = await approve_pending(temporal, sorted(response.dispatch.proposed))
            response.approved = len(approved)
            response.applied = await await_state(temporal, approved, ActionState.APPLIED, within=60)
        async with _stage(result, "dora_report", on_stage):
            incidents = await await_initial_report(search, settings.namespace, within=report_wait)
    response.incidents = len(incidents)
    response.major = sum(1 for i in incidents if i.classification and i.classification.major)
    response.reports = [
        {
            "stage": str(r.stage),
            "path": r.files.get("json", next(iter(r.files.values()), "")),
            "incident": i.incident_id,
        }
        for i in incidents
        for r in i.reports
    ]
    return response


# The demo bank's DORA references, derived from the scenario world and checked by counting the generated day
# (docs/incidents.md, "The demo bank's references"): customers, payment transactions a day, their value.
_DEMO_REFERENCES = {"default": (3000, 1470, 1_120_000), "small": (300, 60, 125_000)}


def with_demo_bank(settings: Settings, scenario: str) -> Settings:
    """Settings with the demo bank as the reporting entity, for a scenario whose world soar generated."""
    clients, transactions, value = _DEMO_REFERENCES.get(scenario, _DEMO_REFERENCES["default"])
    contact = Contact(name="Ines Incident", email="ict-incidents@bank.example", phone="+49 69 1234 5600")
    dora = settings.response.dora.model_copy(
        update={
            "entity": EntityProfile(name="Demo Bank AG", lei="529900T8BM49AURSDO55", primary_contact=contact),
            "clients_total": clients,
            "transactions_daily_avg": Decimal(transactions),
            "transaction_value_daily_avg_eur": Decimal(value),
        }
    )
    return settings.model_copy(update={"response": settings.response.model_copy(update={"dora": dora})})


# The demo's alerts all arrive within seconds: a burst that production waits a minute to see the end of.
_DEMO_DEBOUNCE = timedelta(seconds=5)


def with_demo_debounce(settings: Settings) -> Settings:
    """Settings that classify a demo incident 5 s after the first alert of a burst, not a minute."""
    response = settings.response.model_copy(update={"incident_debounce": _DEMO_DEBOUNCE})
    return settings.model_copy(update={"response": response})


def _configured(settings: Settings, engine: EmbeddedSearch | EmbeddedTemporal) -> bool:
    return settings.search.configured if isinstance(engine, EmbeddedSearch) else settings.temporal.configured
