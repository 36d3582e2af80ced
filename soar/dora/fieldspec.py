"""What a template field is (number, label, IR JSON path, stage, rule) and the rules' helpers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from soar.dora.enums import Criterion, Stage

Doc = Mapping[str, Any]
Rule = bool | Callable[[Doc], bool] | None


def get(doc: Doc, path: str) -> Any:
    """The value at a dotted path without list parts, or None."""
    node: Any = doc
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def criteria(doc: Doc) -> set[str]:
    """The criteria selected in field 2.5."""
    items = get(doc, "incident.classificationTypes") or []
    return {str(item.get("classificationCriterion")) for item in items if isinstance(item, Mapping)}


def has(path: str, value: object) -> Callable[[Doc], bool]:
    """Rule: the value at ``path`` is ``value`` or a list containing it."""

    def rule(doc: Doc) -> bool:
        found = get(doc, path)
        return value in found if isinstance(found, list) else found == value

    return rule


def present(path: str) -> Callable[[Doc], bool]:
    """Rule: the report carries a value at ``path``."""
    return lambda doc: get(doc, path) not in (None, "", [])


def criterion(c: Criterion) -> Callable[[Doc], bool]:
    """Rule: criterion ``c`` is selected in field 2.5."""
    return lambda doc: c.value in criteria(doc)


def any_other_root_cause(doc: Doc) -> bool:
    """Rule: an ``*_other`` detailed root cause is selected in field 4.2."""
    return any(str(v).endswith("_other") for v in get(doc, "incident.rootCausesDetailedClassification") or [])


def root_cause_with_sub_items(doc: Doc) -> bool:
    """Rule: a field 4.2 value with sub-items (field 4.3) is selected."""
    from soar.dora.taxonomy import ADDITIONAL_ROOT_CAUSES

    return any(
        v in ADDITIONAL_ROOT_CAUSES for v in get(doc, "incident.rootCausesDetailedClassification") or []
    )


def amounts(doc: Doc) -> bool:
    """Rule: the report carries an amount (3.11, 4.13 or 4.14)."""
    paths = (
        "impactAssessment.affectedAssets.valueOfAffectedTransactions",
        "incident.grossAmountIndirectDirectCosts",
        "incident.financialRecoveriesAmount",
    )
    return any(get(doc, p) is not None for p in paths)


def third_party_submits(doc: Doc) -> bool:
    """Rule: an affected entity is not the submitter (different or missing LEI)."""
    submitter = get(doc, "submittingEntity.LEI")
    return any(e.get("LEI") != submitter for e in get(doc, "affectedEntity") or [] if isinstance(e, Mapping))


@dataclass(frozen=True)
class FieldSpec:
    """One template field: where it lives in the IR JSON and when a report must carry it.

    ``required`` is True (mandatory from ``since``), a condition on the document (conditional), or None
    (optional). ``criterion`` scopes the field to the ``classificationTypes`` item of that criterion, where it is
    required when the criterion is selected in field 2.5.
    """

    number: str
    label: str
    path: str
    since: Stage
    required: Rule
    condition: str = ""
    criterion: Criterion | None = None

    @property
    def rule_text(self) -> str:
        """Mandatory, conditional (with its condition) or optional, in words."""
        if self.required is True:
            return "mandatory"
        if self.required is None and self.criterion is None:
            return "optional"
        return f"conditional: {self.condition}"


def transactions(doc: Doc) -> bool:
    """Rule: field 3.12 reports actual figures or estimates for transactions affected."""
    kinds = get(doc, "impactAssessment.affectedAssets.numbersActualEstimate") or []
    return any(
        k in kinds
        for k in ("actual_figures_for_transactions_affected", "estimates_for_transactions_affected")
    )
