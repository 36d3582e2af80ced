"""Window arithmetic: which time ranges a sweep searches for each rule, and the gaps it fills or misses.

A rule's window is ``[checkpoint - overlap, now - ingest_delay)``. A rule without a checkpoint (new, or
its time field changed) starts ``lookback`` before the window end. When the checkpoint is more than two
intervals old, scheduled runs were missed (downtime): the span is caught up and recorded as a filled gap,
but never further back than ``max_catchup`` (what is older is recorded as a missed gap). Every span is cut
into windows of at most ``max_window``, so a catch-up is a series of bounded searches, each followed by
its checkpoint. Pure functions of their inputs: the sweep workflow calls them with ``workflow.now()``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from soar.detect.models import (
    Checkpoint,
    DetectCorrelation,
    DetectRule,
    Gap,
    RuleWindow,
    RuleWindowResult,
    Sweepable,
    Window,
)

# A rule is due once 90% of its interval has passed, so a schedule firing a few seconds early still runs it.
_DUE_FRACTION = 0.9
RUN_IDS_KEPT = 10
GAPS_KEPT = 50


class RulePlan(BaseModel):
    """The windows one rule is searched over in this run, and the gaps this run deals with."""

    rule: Sweepable
    windows: list[Window] = Field(default_factory=list)
    gaps: list[Gap] = Field(default_factory=list)


def split(start: datetime, end: datetime, size: timedelta) -> list[Window]:
    """``[start, end)`` cut into consecutive windows of at most ``size`` (none when ``end <= start``)."""
    windows: list[Window] = []
    cursor = start
    while cursor < end:
        stop = min(cursor + size, end)
        windows.append(Window(start=cursor, end=stop))
        cursor = stop
    return windows


def is_due(checkpoint: Checkpoint, end: datetime, interval: timedelta) -> bool:
    """Whether a rule with this checkpoint runs in a sweep whose windows end at ``end``."""
    return checkpoint.backlog or end - checkpoint.end >= interval * _DUE_FRACTION


def plan_rule(
    rule: DetectRule | DetectCorrelation,
    checkpoint: Checkpoint | None,
    now: datetime,
    run_id: str,
    *,
    force: bool = False,
) -> RulePlan:
    """The windows and gaps of one rule for a sweep starting at ``now``.

    Args:
        rule: The rule and its options.
        checkpoint: Its checkpoint, or None for a rule never swept.
        now: The sweep's start (``workflow.now()``).
        run_id: The sweep's run id, recorded on gaps.
        force: Run the rule even when it is not due (a run asked for by a person).

    Returns:
        The plan; no windows when the rule is not due.
    """
    opts = rule.options
    end = now - opts.ingest_delay
    if checkpoint is None or checkpoint.time_field != opts.time_field:
        return RulePlan(rule=rule, windows=split(end - opts.lookback, end, opts.max_window))
    if not force and not is_due(checkpoint, end, opts.interval):
        return RulePlan(rule=rule)
    gaps: list[Gap] = []
    since = checkpoint.end
    if end - since > opts.max_catchup:
        caught_from = end - opts.max_catchup
        gaps.append(Gap(start=since, end=caught_from, filled=False, run_id=run_id))
        since = caught_from
    if end - since > 2 * opts.interval and not checkpoint.backlog:  # a backlog is carried over, not a gap
        gaps.append(Gap(start=since, end=end, filled=True, run_id=run_id))
    return RulePlan(rule=rule, windows=split(since - opts.overlap, end, opts.max_window), gaps=gaps)


def steps(plans: list[RulePlan], budgets: dict[str, int], step: int) -> list[RuleWindow]:
    """The rule windows of sweep step ``step``: each rule's ``step``-th window, if it has budget left."""
    items: list[RuleWindow] = []
    for plan in plans:
        rule_id = plan.rule.rule_id
        if step < len(plan.windows) and budgets.get(rule_id, 0) > 0:
            items.append(RuleWindow(rule=plan.rule, window=plan.windows[step], max_alerts=budgets[rule_id]))
    return items


def advance(
    checkpoint: Checkpoint | None,
    plan: RulePlan,
    result: RuleWindowResult,
    *,
    group_id: str,
    run_id: str,
    now: datetime,
    last_window: bool,
) -> Checkpoint:
    """The rule's checkpoint after a window whose alerts are all written.

    Missed gaps are recorded with the rule's first window of the run, filled gaps with its last (a filled
    gap is filled only once its every window is written).
    """
    rule = plan.rule
    run_ids = [] if checkpoint is None else [r for r in checkpoint.run_ids if r != run_id]
    gaps = [] if checkpoint is None else list(checkpoint.gaps)
    recorded = {(g.start, g.end, g.filled) for g in gaps}
    for gap in plan.gaps:
        ready = not gap.filled or (last_window and not result.capped)
        if ready and (gap.start, gap.end, gap.filled) not in recorded:
            gaps.append(gap)
    return Checkpoint(
        rule_id=rule.rule_id,
        group_id=group_id,
        content_hash=rule.content_hash,
        time_field=rule.options.time_field,
        end=result.reached,
        backlog=result.capped,
        updated_at=now,
        run_ids=[*run_ids, run_id][-RUN_IDS_KEPT:],
        gaps=gaps[-GAPS_KEPT:],
    )
