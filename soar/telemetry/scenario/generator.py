"""Generating a scenario: the world, a day of benign traffic, then the attack stories, all from one seed."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from soar.errors import ScenarioError
from soar.telemetry.scenario.benign_customers import branch_payment, customer_session, tpp_call
from soar.telemetry.scenario.benign_platform import k8s_background, okta_admin_routine, okta_session
from soar.telemetry.scenario.model import SCENARIOS, Scenario, ScenarioSpec
from soar.telemetry.scenario.recorder import Context, Recorder
from soar.telemetry.scenario.stories_identity import (
    credential_stuffing,
    okta_admin_takeover,
    password_spraying,
    token_two_countries,
)
from soar.telemetry.scenario.stories_incident import payments_incident
from soar.telemetry.scenario.stories_payments import (
    above_limit_single_approver,
    payment_without_mfa,
    tpp_scope_violation,
)
from soar.telemetry.scenario.stories_platform import (
    exec_escalation,
    ledger_without_mtls,
    secrets_enumeration,
    unexpected_spiffe,
)
from soar.telemetry.scenario.story import StoryFn
from soar.telemetry.scenario.world import build_world

DEFAULT_START = datetime(2026, 11, 23, tzinfo=UTC)
# Every story, in the order it is generated (the order is part of the deterministic output).
STORIES: tuple[StoryFn, ...] = (
    credential_stuffing,
    password_spraying,
    payment_without_mfa,
    above_limit_single_approver,
    ledger_without_mtls,
    unexpected_spiffe,
    exec_escalation,
    secrets_enumeration,
    tpp_scope_violation,
    token_two_countries,
    okta_admin_takeover,
    payments_incident,
)


def spec_for(name: str) -> ScenarioSpec:
    """The spec of a named scenario.

    Raises:
        ScenarioError: no scenario has that name; the message lists the known ones.
    """
    try:
        return SCENARIOS[name]
    except KeyError:
        known = ", ".join(sorted(SCENARIOS))
        raise ScenarioError(f"unknown scenario {name!r} (known scenarios: {known})") from None


def _start(start: datetime | None) -> datetime:
    if start is None:
        return DEFAULT_START
    if start.tzinfo is None or start.utcoffset() is None:
        raise ScenarioError(f"scenario start must be timezone-aware, got {start.isoformat()}")
    return start.astimezone(UTC)


def _benign(ctx: Context, spec: ScenarioSpec) -> None:
    for _ in range(spec.sessions):
        customer_session(ctx)
    for _ in range(max(1, spec.sessions // 100)):
        branch_payment(ctx)
    for _ in range(spec.tpp_calls):
        tpp_call(ctx)
    for emp in ctx.world.employees:
        for _ in range(ctx.rng.choice((1, 1, 2))):
            okta_session(ctx, emp)
    for _ in range(max(1, spec.employees // 10)):
        okta_admin_routine(ctx)
    for _ in range(spec.k8s_background):
        k8s_background(ctx)


def generate(name: str = "default", *, seed: int = 1337, start: datetime | None = None) -> Scenario:
    """Generate a named scenario: byte-identical output for the same name, seed and start.

    Args:
        name: A key of ``SCENARIOS`` (``"default"``, ``"small"``).
        seed: Seed of the one ``random.Random`` every record and id is drawn from.
        start: Start of the simulated window (timezone-aware); defaults to 2026-11-23T00:00:00Z.

    Returns:
        The scenario: raw lines per source in time order, and the ground truth of every story.

    Raises:
        ScenarioError: unknown scenario name, or a naive ``start``.
    """
    spec = spec_for(name)
    begin = _start(start)
    rng = random.Random(seed)
    world = build_world(rng, spec.customers, spec.employees)
    ctx = Context(rng, world, Recorder(), begin, begin + spec.duration, spec.attack_scale)
    _benign(ctx, spec)
    stories = [story(ctx) for story in STORIES]
    return Scenario(
        name=spec.name, seed=seed, start=ctx.start, end=ctx.end, records=ctx.rec.render(), stories=stories
    )
