"""Classification of a major ICT-related incident: RTS-C (Delegated Reg. 2024/1772) Arts. 6, 8(1) and 9."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

from pydantic import BaseModel, ConfigDict

from soar.dora.assessment import Assessment
from soar.dora.enums import Criterion, Reputational

#: Thresholds of RTS-C Art. 9, as exact fractions or amounts (all strict "higher than" / "exceeded").
CLIENTS_SHARE = Fraction(10, 100)  # Art. 9(1)(a)
CLIENTS_ABSOLUTE = 100_000  # Art. 9(1)(b)
COUNTERPARTS_SHARE = Fraction(30, 100)  # Art. 9(1)(c)
TRANSACTIONS_SHARE = Fraction(10, 100)  # Art. 9(1)(d)
VALUE_SHARE = Fraction(10, 100)  # Art. 9(1)(e)
DURATION_HOURS = Decimal(24)  # Art. 9(3)(a)
DOWNTIME_HOURS = Decimal(2)  # Art. 9(3)(b)
MEMBER_STATES = 2  # Art. 9(4): "two or more"
COSTS_EUR = Decimal(100_000)  # Art. 9(6)

LABELS: dict[Criterion, str] = {
    Criterion.CLIENTS: "Clients, financial counterparts and transactions affected",
    Criterion.REPUTATIONAL: "Reputational impact",
    Criterion.DURATION: "Duration and service downtime",
    Criterion.GEOGRAPHICAL: "Geographical spread",
    Criterion.DATA_LOSSES: "Data losses",
    Criterion.CRITICAL_SERVICES: "Critical services affected",
    Criterion.ECONOMIC: "Economic impact",
}


class Check(BaseModel):
    """One sub-condition of a criterion, with the figures it compared."""

    model_config = ConfigDict(frozen=True)
    ref: str
    text: str
    met: bool


class CriterionResult(BaseModel):
    """How one criterion was evaluated: met or not, on which figures, under which article."""

    model_config = ConfigDict(frozen=True)
    criterion: Criterion
    label: str
    article: str
    met: bool
    checks: tuple[Check, ...]

    def sentence(self) -> str:
        """One line a compliance officer can check against the article."""
        verdict = "met" if self.met else "not met"
        parts = "; ".join(
            f"{c.ref} {c.text}".strip() + (": met" if c.met else ": not met") for c in self.checks
        )
        return f"{self.label} ({self.article}): {verdict}. {parts}."


class Classification(BaseModel):
    """The result of RTS-C Art. 8(1) with its reasons."""

    model_config = ConfigDict(frozen=True)
    major: bool
    gate: bool
    shortcut: bool
    rule: str
    criteria: tuple[CriterionResult, ...]
    thresholds: tuple[Criterion, ...]
    counted: tuple[Criterion, ...]
    explanation: tuple[str, ...]

    def result(self, criterion: Criterion) -> CriterionResult:
        """The evaluation of one criterion."""
        return next(r for r in self.criteria if r.criterion is criterion)

    @property
    def triggering(self) -> tuple[Criterion, ...]:
        """Field 2.5: the criteria that triggered the report (the gate first, then the met thresholds)."""
        gate = (Criterion.CRITICAL_SERVICES,) if self.gate else ()
        return gate + self.thresholds


def _pct(part: Fraction) -> str:
    return f"{float(part * 100):.2f} %"


def _share(ref: str, what: str, affected: Fraction, total: Fraction | None, limit: Fraction) -> Check:
    if not affected:
        return Check(ref=ref, text=f"no {what} affected (> {_pct(limit)} needed)", met=False)
    if not total:  # the assessment model rejects this; kept so the function is total on its own
        return Check(ref=ref, text=f"{_num(affected)} {what} affected, no reference given", met=False)
    share = affected / total
    text = f"{_num(affected)} of {_num(total)} {what} = {_pct(share)} > {_pct(limit)}"
    return Check(ref=ref, text=text, met=share > limit)


def _num(value: Fraction | Decimal | int) -> str:
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    return f"{value:,}" if value == int(value) else f"{value:,.2f}"


def _frac(value: Decimal | int | None) -> Fraction | None:
    return None if value is None else Fraction(value)


def clients_criterion(a: Assessment) -> CriterionResult:
    """RTS-C Art. 9(1)(a)–(f): clients, financial counterparts and transactions; any limb meets it."""
    checks = (
        _share("(a)", "clients", Fraction(a.clients_affected), _frac(a.clients_total), CLIENTS_SHARE),
        Check(
            ref="(b)",
            text=f"{_num(a.clients_affected)} clients affected > {_num(CLIENTS_ABSOLUTE)}",
            met=a.clients_affected > CLIENTS_ABSOLUTE,
        ),
        _share(
            "(c)",
            "financial counterparts",
            Fraction(a.counterparts_affected),
            _frac(a.counterparts_total),
            COUNTERPARTS_SHARE,
        ),
        _share(
            "(d)",
            "transactions (daily average)",
            Fraction(a.transactions_affected),
            _frac(a.transactions_daily_avg),
            TRANSACTIONS_SHARE,
        ),
        _share(
            "(e)",
            "EUR of transaction value (daily average)",
            Fraction(a.transaction_value_affected_eur),
            _frac(a.transaction_value_daily_avg_eur),
            VALUE_SHARE,
        ),
        Check(
            ref="(f)",
            text="a relevant client or financial counterpart (Art. 1(3)) affected",
            met=a.relevant_clients_affected,
        ),
    )
    return _result(Criterion.CLIENTS, "RTS-C Art. 9(1)", checks)


def reputational_criterion(a: Assessment) -> CriterionResult:
    """RTS-C Art. 9(2) with Art. 2(1)(a)–(d): any reputational item meets it."""
    items = {
        Reputational.MEDIA: ("(a)", "reflected in the media"),
        Reputational.COMPLAINTS: ("(b)", "repetitive complaints from different clients or counterparts"),
        Reputational.REGULATORY: ("(c)", "regulatory requirements likely not met"),
        Reputational.CLIENT_LOSS: ("(d)", "likely loss of clients or counterparts with material impact"),
    }
    checks = tuple(
        Check(ref=f"Art. 2(1){ref}", text=text, met=item in a.reputational)
        for item, (ref, text) in items.items()
    )
    return _result(Criterion.REPUTATIONAL, "RTS-C Art. 9(2)", checks)


def duration_criterion(a: Assessment) -> CriterionResult:
    """RTS-C Art. 9(3): duration longer than 24 h, or downtime of critical services longer than 2 h."""
    checks = (
        Check(
            ref="(a)",
            text=f"duration {_num(a.duration_hours)} h > {DURATION_HOURS} h",
            met=a.duration_hours > DURATION_HOURS,
        ),
        Check(
            ref="(b)",
            text=f"downtime of services supporting critical or important functions "
            f"{_num(a.downtime_critical_hours)} h > {DOWNTIME_HOURS} h",
            met=a.downtime_critical_hours > DOWNTIME_HOURS,
        ),
    )
    return _result(Criterion.DURATION, "RTS-C Art. 9(3)", checks)


def counted_member_states(a: Assessment) -> tuple[str, ...]:
    """The Member States counted for Art. 9(4); the home state is left out when the entity so chooses."""
    home_counts = a.entity.home_member_state_counts_for_geography if a.entity else True
    return tuple(s for s in a.member_states_impacted if home_counts or s != a.member_state)


def geography_criterion(a: Assessment) -> CriterionResult:
    """RTS-C Art. 9(4): impact in two or more Member States (Art. 4)."""
    states = counted_member_states(a)
    home = "home state counted" if len(states) == len(a.member_states_impacted) else "home state not counted"
    listed = ", ".join(states) or "none"
    check = Check(
        ref="",
        text=f"{len(states)} Member State(s) impacted ({listed}; {home}) >= {MEMBER_STATES}",
        met=len(states) >= MEMBER_STATES,
    )
    return _result(Criterion.GEOGRAPHICAL, "RTS-C Art. 9(4)", (check,))


def data_losses_criterion(a: Assessment) -> CriterionResult:
    """RTS-C Art. 9(5)(a) and (b): adverse data impact, or a malicious access that may cause data losses."""
    checks = (
        Check(
            ref="(a)",
            text="impact on availability, authenticity, integrity or confidentiality with adverse impact on "
            "business objectives or regulatory compliance",
            met=a.data_loss_adverse_impact,
        ),
        Check(
            ref="(b)",
            text="successful, malicious and unauthorised access that may result in data losses",
            met=shortcut(a),
        ),
    )
    return _result(Criterion.DATA_LOSSES, "RTS-C Art. 9(5)", checks)


def economic_criterion(a: Assessment) -> CriterionResult:
    """RTS-C Art. 9(6): gross costs and losses (no recoveries deducted) exceed EUR 100 000."""
    check = Check(
        ref="",
        text=f"costs and losses EUR {_num(a.costs_eur)} > EUR {_num(COSTS_EUR)}",
        met=a.costs_eur > COSTS_EUR,
    )
    return _result(Criterion.ECONOMIC, "RTS-C Art. 9(6)", (check,))


def critical_services_criterion(a: Assessment) -> CriterionResult:
    """RTS-C Art. 6(a)–(c): the mandatory gate of Art. 8(1); any limb meets it."""
    checks = (
        Check(
            ref="(a)",
            text="ICT services or systems supporting critical or important functions affected",
            met=a.critical_services_affected,
        ),
        Check(
            ref="(b)",
            text="financial services requiring authorisation or registration, or supervised, affected",
            met=a.authorised_services_affected,
        ),
        Check(
            ref="(c)",
            text="successful, malicious and unauthorised access to network and information systems",
            met=a.malicious_unauthorised_access,
        ),
    )
    return _result(Criterion.CRITICAL_SERVICES, "RTS-C Art. 6", checks)


def shortcut(a: Assessment) -> bool:
    """RTS-C Art. 9(5)(b): a successful malicious unauthorised access that may result in data losses."""
    return a.malicious_unauthorised_access and a.access_may_cause_data_loss


def _result(criterion: Criterion, article: str, checks: Sequence[Check]) -> CriterionResult:
    return CriterionResult(
        criterion=criterion,
        label=LABELS[criterion],
        article=article,
        met=any(c.met for c in checks),
        checks=tuple(checks),
    )


def evaluate(a: Assessment) -> tuple[CriterionResult, ...]:
    """Every criterion of RTS-C evaluated on the assessment, the gate first."""
    return (
        critical_services_criterion(a),
        clients_criterion(a),
        reputational_criterion(a),
        duration_criterion(a),
        geography_criterion(a),
        data_losses_criterion(a),
        economic_criterion(a),
    )


def classify(a: Assessment) -> Classification:
    """Apply RTS-C Art. 8(1) to one assessment.

    Major if the critical-services gate (Art. 6) is met AND either the Art. 9(5)(b) threshold is met
    (Art. 8(1)(a)) or two or more of the other thresholds of Art. 9 are met (Art. 8(1)(b)), each criterion
    counted once. Art. 9(5)(a) counts as one of the "other" thresholds; 9(5)(b) alone does not.

    Args:
        a: The assessment.

    Returns:
        The classification with a per-criterion explanation.
    """
    results = evaluate(a)
    gate = results[0].met
    thresholds = tuple(r.criterion for r in results[1:] if r.met)
    counted = tuple(
        r.criterion
        for r in results[1:]
        if (r.checks[0].met if r.criterion is Criterion.DATA_LOSSES else r.met)
    )
    short = shortcut(a)
    if not gate:
        major, rule = False, "RTS-C Art. 8(1): the critical-services gate (Art. 6) is not met, so not major"
    elif short:
        major, rule = (
            True,
            "RTS-C Art. 8(1)(a): gate met and Art. 9(5)(b) met (malicious access, data loss possible)",
        )
    elif len(counted) >= 2:
        major, rule = (
            True,
            f"RTS-C Art. 8(1)(b): gate met and {len(counted)} other thresholds met (two or more)",
        )
    else:
        major, rule = (
            False,
            f"RTS-C Art. 8(1)(b): gate met but only {len(counted)} other threshold(s) met (two needed)",
        )
    verdict = "MAJOR ICT-related incident" if major else "not a major ICT-related incident"
    explanation = (f"{verdict}. {rule}.", *(r.sentence() for r in results))
    return Classification(
        major=major,
        gate=gate,
        shortcut=short,
        rule=rule,
        criteria=results,
        thresholds=thresholds,
        counted=counted,
        explanation=explanation,
    )
