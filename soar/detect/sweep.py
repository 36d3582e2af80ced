"""The sweep workflow: one run of a rule group over its windows, started by a Temporal Schedule or the CLI."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from soar.detect.activities import DetectActivities
    from soar.detect.models import (
        Checkpoint,
        HandOverInput,
        LoadGroupInput,
        SaveCheckpointsInput,
        SearchWindowInput,
        SweepInput,
        SweepResult,
    )
    from soar.detect.windows import RulePlan, advance, plan_rule, steps

_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=1))
_SHORT = timedelta(minutes=2)
_SEARCH = timedelta(minutes=15)
# The activities heartbeat while they run (soar.detect.activities): when their worker dies, another retries
# them after this, not after their start-to-close timeout, which the schedule (overlaps skipped) would wait out.
_LIVENESS = timedelta(seconds=20)


@workflow.defn(name="DetectSweep")
class SweepWorkflow:
    """Load the group's rules and checkpoints, then per step: search and write alerts, advance checkpoints.

    Windows are searched in steps (each rule's n-th window in step n), so a catch-up after downtime is a
    series of bounded searches, and a checkpoint moves only after its window's alerts are written.
    """

    @workflow.run
    async def run(self, sweep: SweepInput) -> SweepResult:
        """Sweep the group once."""
        run_id = workflow.info().run_id
        now = workflow.now()
        loaded = await workflow.execute_activity_method(
            DetectActivities.load_group,
            LoadGroupInput(
                group_id=sweep.group_id,
                rules=sweep.rules,
                rules_path=sweep.rules_path,
                namespace=sweep.namespace,
                defaults=sweep.settings.rules,
                exceptions_path=str(sweep.settings.exceptions) if sweep.settings.exceptions else None,
            ),
            start_to_close_timeout=_SHORT,
            retry_policy=_RETRY,
            heartbeat_timeout=_LIVENESS,
        )
        result = SweepResult(group_id=sweep.group_id, rules=len(loaded.rules), missing_rules=loaded.missing)
        result.exceptions = loaded.exceptions
        result.rule_errors = loaded.errors
        plans = [
            plan_rule(r, loaded.checkpoints.get(r.rule_id), now, run_id, force=sweep.force)
            for r in loaded.rules
        ]
        result.gaps_missed = sum(1 for p in plans for g in p.gaps if not g.filled)
        checkpoints = dict(loaded.checkpoints)
        budgets = {p.rule.rule_id: p.rule.options.max_alerts for p in plans}
        step = 0
        while items := steps(plans, budgets, step):
            await self._step(sweep, plans, checkpoints, budgets, step, result)
            result.windows += len(items)
            step += 1
        await self._hand_over(sweep, result)  # what a step's hand-over left pending
        return result

    async def _hand_over(self, sweep: SweepInput, result: SweepResult) -> None:
        handed = await workflow.execute_activity_method(
            DetectActivities.hand_over,
            HandOverInput(group_id=sweep.group_id, namespace=sweep.namespace),
            start_to_close_timeout=_SEARCH,
            retry_policy=_RETRY,
            heartbeat_timeout=_LIVENESS,
        )
        result.handed_over += handed.started + handed.already_started
        result.unrouted += handed.unrouted

    async def _step(
        self,
        sweep: SweepInput,
        plans: list[RulePlan],
        checkpoints: dict[str, Checkpoint],
        budgets: dict[str, int],
        step: int,
        result: SweepResult,
    ) -> None:
        run_id = workflow.info().run_id
        items = steps(plans, budgets, step)
        out = await workflow.execute_activity_method(
            DetectActivities.search_window,
            SearchWindowInput(
                group_id=sweep.group_id,
                run_id=run_id,
                namespace=sweep.namespace,
                items=items,
                page_size=sweep.settings.page_size,
                max_group_events=sweep.settings.max_group_events,
                concurrency=sweep.settings.concurrency,
            ),
            start_to_close_timeout=_SEARCH,
            retry_policy=_RETRY,
            heartbeat_timeout=_LIVENESS,
        )
        result.handed_over += out.handed.started + out.handed.already_started
        result.unrouted += out.handed.unrouted
        by_rule = {p.rule.rule_id: p for p in plans}
        for res in out.results:
            plan = by_rule[res.rule_id]
            last = step == len(plan.windows) - 1
            old = checkpoints.get(res.rule_id)
            new = advance(
                old, plan, res, group_id=sweep.group_id, run_id=run_id, now=workflow.now(), last_window=last
            )
            if last and not res.capped:
                result.gaps_filled += sum(1 for g in plan.gaps if g.filled)
            checkpoints[res.rule_id] = new
            budgets[res.rule_id] = 0 if res.capped else budgets[res.rule_id] - res.created
            result.hits += res.hits
            result.alerts_created += res.created
            result.duplicates_skipped += res.duplicates
            result.suppressed += res.suppressed
            if res.capped:
                result.capped.append(res.rule_id)
            if res.truncated and res.rule_id not in result.truncated:
                result.truncated.append(res.rule_id)
        save = workflow.execute_activity_method(
            DetectActivities.save_checkpoints,
            SaveCheckpointsInput(
                namespace=sweep.namespace, checkpoints=[checkpoints[r.rule_id] for r in out.results]
            ),
            start_to_close_timeout=_SHORT,
            retry_policy=_RETRY,
            heartbeat_timeout=_LIVENESS,
        )
        # Playbooks start as soon as a step's alerts are written (beside the checkpoint save), not after the
        # sweep's last step.
        if any(r.created for r in out.results) and workflow.patched("hand-over-each-step"):
            await asyncio.gather(save, self._hand_over(sweep, result))
        else:
            await save
