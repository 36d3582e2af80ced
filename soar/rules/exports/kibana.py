"""Elastic Security detection rules (NDJSON for Kibana's rule import) from Sigma rules, offline.

The query is pySigma's EQL (``any where ...``): EQL's ``:`` compares strings case-insensitively with
wildcards, which keeps Sigma's semantics on keyword fields (DESIGN trap 1), unlike Lucene or KQL.
Technique names come from the shipped ATT&CK data (:mod:`soar.rules.exports.attack`); pySigma's
``siem_rule`` output is not used because it downloads MITRE data (trap 3).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

from soar.rules.exports.attack import threat

RISK_SCORES = {"informational": 21, "low": 21, "medium": 47, "high": 73, "critical": 99}
SEVERITIES = {
    "informational": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "critical": "critical",
}
SIGMAHQ_LICENCE = "DRL-1.1"  # SigmaHQ's Detection Rule License


def kibana_rule(rule: SigmaRule | SigmaCorrelationRule, query: str, index: str, path: Path) -> dict[str, Any]:
    """One Elastic Security rule object (a line of the import NDJSON).

    Args:
        rule: The Sigma rule or correlation (after the pipeline).
        query: Its EQL query (a ``sequence`` for a correlation).
        index: The index pattern of the rule's source.
        path: The rule file (SigmaHQ-derived rules are recognised by a ``sigmahq`` folder).

    Returns:
        The rule as Kibana's detection-engine import expects it.
    """
    level = rule.level.name.lower() if rule.level else "medium"
    tags = [str(tag) for tag in rule.tags or []]
    out: dict[str, Any] = {
        "rule_id": str(rule.id),
        "name": rule.title,
        "description": rule.description or rule.title,
        "risk_score": RISK_SCORES.get(level, 47),
        "severity": SEVERITIES.get(level, "medium"),
        "type": "eql",
        "language": "eql",
        "index": [index],
        "query": query,
        "threat": threat(tags),
        "references": [str(r) for r in rule.references or []],
        "false_positives": [str(f) for f in rule.falsepositives or []],
        "author": [a.strip() for a in (rule.author or "").split(",") if a.strip()],
        "from": "now-6m",
        "interval": "5m",
        "enabled": True,
        "version": _version(rule),
        "tags": ["Sigma", *tags],
        "max_signals": 100,
    }
    licence = _licence(rule, path)
    if licence:
        out["license"] = licence
    return out


def _version(rule: SigmaRule | SigmaCorrelationRule) -> int:
    # Kibana wants an integer that grows with each change: the modified (else creation) date as YYYYMMDD.
    when = rule.modified or rule.date
    return int(when.strftime("%Y%m%d")) if when else 1


def _licence(rule: SigmaRule | SigmaCorrelationRule, path: Path) -> str | None:
    own = getattr(rule, "license", None)
    if own:
        return str(own)
    if any("sigmahq" in part.lower() for part in path.parts):
        return SIGMAHQ_LICENCE
    return None
