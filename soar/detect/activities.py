"""The sweep's activities: the only way the sweep workflow reaches the search engine, rules and Temporal."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from soar.detect.checkpoints import read_checkpoints, write_checkpoints
from soar.detect.execute import search_window
from soar.detect.handover import PromptHandOver, hand_over
from soar.detect.models import (
    HandOverInput,
    HandOverOutput,
    LoadGroupInput,
    LoadGroupOutput,
    SaveCheckpointsInput,
    SearchWindowInput,
    SearchWindowOutput,
)
from soar.detect.routing import RoutingTable
from soar.detect.ruleset import detect_items, sweep_groups, with_exceptions
from soar.engines.search import SearchClient
from soar.errors import EngineError, InputError, SoarError
from soar.rules.compile import compile_rules

# Well under the sweep's heartbeat timeout (soar.detect.sweep), so a busy event loop has slack.
_BEAT_EVERY = 2.0


def _application_error(exc: SoarError) -> ApplicationError:
    """Bad input (a broken rule) is not retried; an engine failure is, by Temporal's retry policy."""
    return ApplicationError(str(exc), type=type(exc).__name__, non_retryable=not isinstance(exc, EngineError))


@asynccontextmanager
async def _alive() -> AsyncIterator[None]:
    """Heartbeat while the block runs: a worker that dies stops beating, and Temporal retries elsewhere."""

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(_BEAT_EVERY)

    beating = asyncio.create_task(beat())
    try:
        yield
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating


class DetectActivities:
    """Activities of the sweep workflow, holding the clients they need.

    Args:
        search: The search engine alerts are read from and written to.
        temporal: The Temporal client playbooks are started with.
        routing: Which alerts start which playbook (empty: none).
        cache_dir: Where compiled rules are cached (None: compile every time).
    """

    def __init__(
        self,
        search: SearchClient,
        temporal: Client,
        routing: RoutingTable | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.search = search
        self.temporal = temporal
        self.routing = routing or RoutingTable()
        self.cache_dir = cache_dir
        # Compiling runs in a thread, so the event loop keeps heartbeating; one at a time (pySigma's parser
        # is not known to be thread-safe).
        self._compiling = asyncio.Lock()

    @activity.defn(name="detect.load_group")
    async def load_group(self, spec: LoadGroupInput) -> LoadGroupOutput:
        """Compile the group's rules and correlations from disk, with their options and checkpoints.

        A rule whose ``soar:`` attribute is bad is left out and reported; the others run.
        """
        try:
            async with _alive(), self._compiling:
                compiled = await asyncio.to_thread(compile_rules, spec.rules_path, cache_dir=self.cache_dir)
            rules = sweep_groups(compiled).get(spec.group_id, [])
            wanted = {ref.rule_id for ref in spec.rules}
            if wanted:
                rules = [r for r in rules if r.rule_id in wanted]
            missing = sorted(wanted - {r.rule_id for r in rules})
            detect, errors = detect_items(rules, spec.defaults)
            detect, exceptions = with_exceptions(detect, spec.exceptions_path, datetime.now(UTC).date())
            checkpoints = await read_checkpoints(self.search, spec.namespace, [r.rule_id for r in detect])
        except (InputError, EngineError) as exc:
            raise _application_error(exc) from exc
        return LoadGroupOutput(
            rules=detect,
            checkpoints=checkpoints,
            missing=missing,
            exceptions=exceptions,
            errors=[str(e) for e in errors],
        )

    @activity.defn(name="detect.search_window")
    async def search_window(self, spec: SearchWindowInput) -> SearchWindowOutput:
        """Search one step's rule windows, write their alerts (idempotent: ids are deterministic), hand them over."""
        prompt = PromptHandOver(self.search, self.temporal, self.routing)
        try:
            async with _alive():
                results = await search_window(self.search, spec, prompt)
        except SoarError as exc:
            raise _application_error(exc) from exc
        return SearchWindowOutput(results=results, handed=prompt.handed)

    @activity.defn(name="detect.save_checkpoints")
    async def save_checkpoints(self, spec: SaveCheckpointsInput) -> None:
        """Advance checkpoints; called only once the windows' alerts are written."""
        try:
            async with _alive():
                await write_checkpoints(self.search, spec.namespace, spec.checkpoints)
        except SoarError as exc:
            raise _application_error(exc) from exc

    @activity.defn(name="detect.hand_over")
    async def hand_over(self, spec: HandOverInput) -> HandOverOutput:
        """Start the routed playbook of every pending alert of the group, at most once per alert."""
        try:
            async with _alive():
                return await hand_over(
                    self.search, self.temporal, self.routing, spec.namespace, spec.group_id
                )
        except SoarError as exc:
            raise _application_error(exc) from exc

    def all(self) -> list[Callable[..., Any]]:
        """Every activity, for a worker."""
        return [self.load_group, self.search_window, self.save_checkpoints, self.hand_over]
