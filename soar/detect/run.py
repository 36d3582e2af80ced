"""One sweep of every rule group, now: what ``soar detect run --once`` does, on a worker in this process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from temporalio.client import Client

from soar.config import Settings
from soar.detect.checkpoints import ensure_indices
from soar.detect.models import RuleRef, SweepInput, SweepResult
from soar.detect.routing import RoutingTable
from soar.detect.ruleset import SweepRule, sweep_groups
from soar.detect.settings import DetectSettings
from soar.detect.sweep import SweepWorkflow
from soar.detect.worker import detect_worker
from soar.engines.search import SearchClient
from soar.errors import RuleError
from soar.rules.compile import compile_rules, default_cache_dir


class RunSummary(BaseModel):
    """The sweeps of one run, and the rules that could not be compiled."""

    sweeps: list[SweepResult] = Field(default_factory=list)
    rule_errors: list[str] = Field(default_factory=list)

    def noise(self) -> dict[str, Any]:
        """Noise control of the run: suppressed hits, exceptions in force, expired and bad exception files."""
        expired = sorted({e for s in self.sweeps for e in s.exceptions.expired})
        return {
            "alerts_suppressed": sum(s.suppressed for s in self.sweeps),
            "exceptions_active": sorted({e for s in self.sweeps for e in s.exceptions.active}),
            "exceptions_expired": expired,
            "exception_errors": sorted({e for s in self.sweeps for e in s.exceptions.errors}),
        }

    def totals(self) -> dict[str, int]:
        """The run's one-line JSON figures."""
        return {
            "rules": sum(s.rules for s in self.sweeps),
            "windows": sum(s.windows for s in self.sweeps),
            "alerts_created": sum(s.alerts_created for s in self.sweeps),
            "duplicates_skipped": sum(s.duplicates_skipped for s in self.sweeps),
            "gaps_filled": sum(s.gaps_filled for s in self.sweeps),
        }


def rule_groups(
    paths: Sequence[Path], settings: Settings
) -> tuple[dict[str, list[SweepRule]], list[RuleError]]:
    """Compile the rules (with the cache) and group them with their correlations; errors are returned, not raised."""
    compiled = compile_rules(paths, cache_dir=default_cache_dir(settings.data_dir))
    return sweep_groups(compiled), compiled.errors


def sweep_input(
    group: str,
    rules: list[SweepRule],
    paths: Sequence[Path],
    settings: Settings,
    detect: DetectSettings,
    *,
    force: bool,
) -> SweepInput:
    """The input of a group's sweep (rule ids and content hashes; the rules themselves stay on disk).

    The exceptions folder is made absolute here, as the rule paths are: a worker may run elsewhere.
    """
    exceptions = detect.exceptions_dir(list(paths)).resolve()
    return SweepInput(
        group_id=group,
        rules=[RuleRef(rule_id=r.rule_id, content_hash=r.content_hash) for r in rules],
        rules_path=[str(p.resolve()) for p in paths],
        namespace=settings.namespace,
        settings=detect.model_copy(update={"exceptions": exceptions}),
        force=force,
    )


async def run_once(
    search: SearchClient,
    temporal: Client,
    settings: Settings,
    paths: Sequence[Path],
    detect: DetectSettings | None = None,
    routing: RoutingTable | None = None,
) -> RunSummary:
    """Sweep every rule group once and wait for the sweeps, on a worker started in this process.

    The worker listens on a queue of its own, so the sweeps run here, with this process's rule files.
    ``detect`` defaults to ``settings.detect``.
    """
    detect = detect or settings.detect
    groups, errors = rule_groups(paths, settings)
    await ensure_indices(search, settings.namespace)
    queue = f"{settings.temporal.task_queue}-detect-once-{uuid.uuid4().hex[:8]}"
    worker = detect_worker(
        temporal, search, task_queue=queue, routing=routing, cache_dir=default_cache_dir(settings.data_dir)
    )
    async with worker:
        sweeps = await asyncio.gather(
            *(
                temporal.execute_workflow(
                    SweepWorkflow.run,
                    sweep_input(group, rules, paths, settings, detect, force=True),
                    id=f"detect-sweep-{group}-once-{uuid.uuid4().hex[:8]}",
                    task_queue=queue,
                    execution_timeout=timedelta(hours=1),
                )
                for group, rules in groups.items()
            )
        )
    skipped = [e for s in sweeps for e in s.rule_errors]  # rules whose soar: attribute is bad
    return RunSummary(sweeps=list(sweeps), rule_errors=[*(str(e) for e in errors), *skipped])
