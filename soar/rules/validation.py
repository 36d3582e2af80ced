"""Rule validation: pySigma's standard validators plus soar's checks (fields, logsource, ATT&CK, metadata).

pySigma's ``attacktag`` and ``d3_fendtag`` validators are left out: they download MITRE data at run
time (DESIGN trap 3); soar checks ATT&CK tags offline by their form. Validate freshly loaded rules:
compiling applies the pipeline to a rule in place.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.validation import SigmaValidator
from sigma.validators.core import validators as core_validators

from soar.errors import RuleError
from soar.rules import dsl
from soar.rules.fieldmaps import map_field
from soar.rules.loader import LoadedRule
from soar.rules.locate import field_line, key_line
from soar.rules.pipelines import describe_logsource, resolve_source
from soar.telemetry.sources import Source
from soar.telemetry.templates import field_types as template_field_types

FieldTypes = Callable[[Source], Mapping[str, str]]
OFFLINE_EXCLUDED = frozenset({"attacktag", "d3_fendtag"})
REQUIRED_METADATA = ("id", "title", "level", "description", "author", "tags")
ATTACK_TACTICS = frozenset(
    {
        "reconnaissance",
        "resource-development",
        "initial-access",
        "execution",
        "persistence",
        "privilege-escalation",
        "defense-evasion",
        "credential-access",
        "discovery",
        "lateral-movement",
        "collection",
        "command-and-control",
        "exfiltration",
        "impact",
        "stealth",  # ATT&CK v18 split defense-evasion into stealth and defense-impairment
        "defense-impairment",
    }
)
_ATTACK_ID = re.compile(r"^(t\d{4}(\.\d{3})?|g\d{4}|s\d{4})$")


def validate_rules(
    rules: Sequence[LoadedRule],
    field_types: FieldTypes = template_field_types,
    *,
    require_metadata: bool = True,
    pysigma: bool = True,
) -> list[RuleError]:
    """Check rules and return one ``RuleError`` per problem (file, line, rule id, field where known).

    Args:
        rules: Rules as loaded (not yet compiled).
        field_types: The ``dotted field -> mapping type`` lookup of a source.
        require_metadata: Require id, title, level, description, author and tags (soar's content).
        pysigma: Also run pySigma's standard validators (offline ones).

    Returns:
        Every problem found, in rule order.
    """
    errors: list[RuleError] = []
    validator = SigmaValidator(_offline_validators()) if pysigma else None
    for loaded in rules:
        errors.extend(check_rule(loaded, field_types, require_metadata=require_metadata))
        if validator is not None and isinstance(loaded.rule, SigmaRule):
            errors.extend(_issue_error(issue, loaded) for issue in validator.validate_rule(loaded.rule))
    if validator is not None:
        by_rule = {id(loaded.rule): loaded for loaded in rules}
        for issue in validator.finalize():
            first = next((by_rule[id(r)] for r in issue.rules if id(r) in by_rule), None)
            errors.append(_issue_error(issue, first))
    return errors


def check_rule(
    loaded: LoadedRule, field_types: FieldTypes, *, require_metadata: bool = True
) -> list[RuleError]:
    """Run soar's own checks on one rule: metadata, ATT&CK tags, logsource and fields."""
    errors = list(_tag_errors(loaded))
    if require_metadata:
        errors.extend(_metadata_errors(loaded))
    if isinstance(loaded.rule, SigmaRule):
        errors.extend(_source_and_field_errors(loaded, loaded.rule, field_types))
    return errors


def attack_tag_problem(tag: str) -> str | None:
    """Why an ``attack.*`` tag is malformed, or None when it is well formed."""
    name = tag.split(".", 1)[1] if "." in tag else ""
    if _ATTACK_ID.match(name) or name in ATTACK_TACTICS:
        return None
    if name.replace("_", "-") in ATTACK_TACTICS:
        return f"ATT&CK tactic {tag!r} must use hyphens ({'attack.' + name.replace('_', '-')})"
    return (
        f"malformed ATT&CK tag {tag!r}: expected attack.tNNNN[.NNN], attack.gNNNN, attack.sNNNN or a tactic"
    )


def _error(loaded: LoadedRule, reason: str, *, key: str | None = None, line: int | None = None) -> RuleError:
    if line is None and key is not None:
        line = key_line(loaded.data, key, loaded.document)
    return RuleError(reason, file=str(loaded.path), line=line, rule_id=loaded.rule_id)


def _tag_errors(loaded: LoadedRule) -> Iterator[RuleError]:
    for tag in loaded.rule.tags or []:
        text = str(tag)
        if text.startswith("attack.") and (problem := attack_tag_problem(text)):
            yield _error(loaded, problem, key="tags")


def _metadata_errors(loaded: LoadedRule) -> Iterator[RuleError]:
    rule = loaded.rule
    for name in REQUIRED_METADATA:
        value: Any = getattr(rule, name, None)
        if value is None or value == "" or value == []:
            yield _error(loaded, f"required metadata {name!r} is missing", key=name)


def _source_and_field_errors(
    loaded: LoadedRule, rule: SigmaRule, field_types: FieldTypes
) -> Iterator[RuleError]:
    source = resolve_source(rule.logsource)
    if source is None:
        reason = f"logsource {describe_logsource(rule.logsource)} maps to no soar source"
        yield _error(loaded, reason, key="logsource")
        return
    types = field_types(source)
    seen: set[str] = set()
    for field in rule_fields(rule):
        mapped = map_field(source, field)
        if field in seen or dsl.field_type(types, mapped) is not None:
            continue
        seen.add(field)
        close = difflib.get_close_matches(mapped, list(types), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        shown = mapped if mapped == field else f"{mapped} (from {field})"
        reason = f"unknown field {shown} for source {source.value}{hint}"
        line = field_line(loaded.data, field, loaded.document)
        yield RuleError(reason, file=str(loaded.path), line=line, field=field, rule_id=loaded.rule_id)


def rule_fields(rule: SigmaRule) -> list[str]:
    """Every field name a rule's detections use, as written, in order."""
    out: list[str] = []

    def walk(item: SigmaDetection | SigmaDetectionItem) -> None:
        if isinstance(item, SigmaDetection):
            for child in item.detection_items:
                walk(child)
        elif item.field is not None and item.field not in out:
            out.append(item.field)

    for detection in rule.detection.detections.values():
        walk(detection)
    return out


def _offline_validators() -> list[Any]:
    return [cls for name, cls in core_validators.items() if name not in OFFLINE_EXCLUDED]


def _issue_error(issue: Any, loaded: LoadedRule | None) -> RuleError:
    reason = f"{issue.description} [{type(issue).__name__}, {issue.severity.name.lower()}]"
    if loaded is None:
        return RuleError(reason)
    return _error(loaded, reason)
