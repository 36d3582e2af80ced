"""Alert documents: deterministic ids, ECS plus ``soar.alert.*`` (after Kibana's ``kibana.alert.*``), indices.

One alert per hit. Its id is a hash of the rule id, the source index and the source ``_id``, and it is
written with ``op_type: create``, so re-running any window writes nothing new: the second write of an
alert is a 409, counted as a duplicate. The source document is copied (ECS), the alerts index maps only
what people filter on (``dynamic: false``), so no source mapping can conflict with another.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from soar.detect.models import DetectRule, Window
from soar.detect.risk import Risk, assess
from soar.telemetry.ecs import format_timestamp

HandOverStatus = Literal["pending", "started", "unrouted"]
_TECHNIQUE = re.compile(r"^t\d{4}(?:\.\d{3})?$")
_GROUP_OR_SOFTWARE = re.compile(r"^[gs]\d{4}$")


def alerts_index(namespace: str) -> str:
    """The index alerts of a namespace are written to."""
    return f"soar-alerts-{namespace}"


def checkpoints_index(namespace: str) -> str:
    """The index holding one checkpoint document per rule."""
    return f"soar-checkpoints-{namespace}"


def alert_id(rule_id: str, source_index: str, source_id: str) -> str:
    """The alert id of a rule's hit on one source document: the same inputs, the same id, always."""
    return hashlib.sha256(f"{rule_id}\x00{source_index}\x00{source_id}".encode()).hexdigest()[:40]


def handover_workflow_id(alert: str) -> str:
    """The id of the playbook workflow an alert starts: one per alert, ever."""
    return f"alert-{alert}"


def attack(tags: list[str]) -> dict[str, list[str]]:
    """ATT&CK technique ids and tactic names from Sigma tags (``attack.t1110``, ``attack.credential-access``)."""
    techniques: list[str] = []
    tactics: list[str] = []
    for tag in tags:
        name = tag.lower().removeprefix("attack.")
        if name == tag.lower() or _GROUP_OR_SOFTWARE.match(name):
            continue
        if _TECHNIQUE.match(name):
            techniques.append(name.upper())
        else:
            tactics.append(name)
    return {"technique": techniques, "tactic": tactics}


class AlertContext(BaseModel):
    """What every alert of one rule window shares."""

    rule: DetectRule
    group_id: str
    run_id: str
    window: Window
    created: datetime


def _shared(ctx: AlertContext) -> dict[str, Any]:
    """The parts of ``soar.alert`` every alert of the window has alike, rendered once for many alerts.

    Rendering the query and the times for each alert cost more than the rest of its document together.
    """
    rule = ctx.rule.rule
    return {
        "created": format_timestamp(ctx.created),
        "rule": {
            "uuid": rule.rule_id,
            "name": rule.title,
            "version": rule.version,
            "content_hash": rule.content_hash,
            "query": json.dumps(rule.query, sort_keys=True, separators=(",", ":")),
            "index": rule.index,
            "tags": rule.tags,
            "group": ctx.group_id,
            "time_field": ctx.rule.options.time_field,
        },
        "threat": attack(rule.tags),
        "window": {"start": format_timestamp(ctx.window.start), "end": format_timestamp(ctx.window.end)},
    }


def alert_documents(ctx: AlertContext, hits: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """:func:`alert_document` of each hit of one window."""
    shared = _shared(ctx)
    return [_document(ctx, hit, None, shared) for hit in hits]


def alert_document(
    ctx: AlertContext, hit: dict[str, Any], *, uid: str | None = None
) -> tuple[str, dict[str, Any]]:
    """The alert id and document for one search hit (the source document plus ``soar.alert.*``).

    Args:
        ctx: What the window's alerts share.
        hit: The search hit.
        uid: The alert id when it is not the hit's own (a suppressed alert's bucket id).
    """
    return _document(ctx, hit, uid, _shared(ctx))


def _document(
    ctx: AlertContext, hit: dict[str, Any], uid: str | None, shared: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    rule = ctx.rule.rule
    source = dict(hit.get("_source") or {})
    original_time = source.get("@timestamp")
    uid = uid or alert_id(rule.rule_id, hit["_index"], hit["_id"])
    source.pop("soar", None)  # a source document never speaks for the alert
    risk = assess(ctx.rule.options, rule.level, source)
    source["@timestamp"] = shared["created"]
    source.setdefault("event", {})
    source["event"] = {**source["event"], "kind": "signal"}
    source["soar"] = {"alert": _alert_fields(ctx, hit, uid, risk, original_time, shared)}
    return uid, source


def _mapping(applied: BaseModel | None) -> dict[str, Any] | None:
    return None if applied is None else applied.model_dump(mode="json")


def _alert_fields(
    ctx: AlertContext, hit: dict[str, Any], uid: str, risk: Risk, original_time: Any, shared: dict[str, Any]
) -> dict[str, Any]:
    rule = ctx.rule.rule
    exceptions = ctx.rule.exceptions
    return {
        "uuid": uid,
        "status": "active",
        "workflow_status": "open",
        "severity": risk.severity,
        "risk_score": risk.risk_score,
        "severity_mapping": _mapping(risk.severity_mapping),  # None: the rule's level decided
        "risk_score_mapping": _mapping(risk.risk_score_mapping),
        "building_block": (rule.level or "medium") == "informational",
        "original_time": original_time,
        "reason": f"{rule.title}: matched {hit['_index']}/{hit['_id']}",
        "rule": {**shared["rule"], "tags": list(rule.tags)},  # copies: an alert may be changed on its own
        "threat": {kind: list(names) for kind, names in shared["threat"].items()},
        "window": dict(shared["window"]),
        "source": {"index": hit["_index"], "id": hit["_id"]},
        "matched_queries": hit.get("matched_queries", []),
        "group": {"id": None},  # filled by correlations: the alerts of one sequence or threshold bucket
        "exceptions": {  # the exception versions the rule ran with (soar.detect.exceptions)
            "hash": exceptions.hash if exceptions else None,
            "versions": exceptions.versions if exceptions else [],
        },
        "run_id": ctx.run_id,
        "handover": {"status": "pending"},
        "workflow_id": None,
    }


_KEYWORD = {"type": "keyword"}
_DATE = {"type": "date"}
_MAPPING = {"properties": {"field": _KEYWORD, "operator": _KEYWORD, "value": _KEYWORD}}


def alerts_template(namespace_pattern: str = "soar-alerts-*") -> dict[str, Any]:
    """The index template of the alerts indices: ``soar.alert.*`` mapped, the copied source kept unmapped."""
    alert = {
        "uuid": _KEYWORD,
        "status": _KEYWORD,
        "workflow_status": _KEYWORD,
        "severity": _KEYWORD,
        "risk_score": {"type": "integer"},
        "building_block": {"type": "boolean"},
        "original_time": _DATE,
        "reason": {"type": "text"},
        "run_id": _KEYWORD,
        "workflow_id": _KEYWORD,
        "matched_queries": _KEYWORD,
        "handover": {"properties": {"status": _KEYWORD}},
        "group": {"properties": {"id": _KEYWORD}},
        "source": {"properties": {"index": _KEYWORD, "id": _KEYWORD}},
        "window": {"properties": {"start": _DATE, "end": _DATE}},
        "threat": {"properties": {"technique": _KEYWORD, "tactic": _KEYWORD}},
        "exceptions": {"properties": {"hash": _KEYWORD, "versions": _KEYWORD}},
        "risk_score_mapping": _MAPPING,
        "severity_mapping": _MAPPING,
        "suppression": {
            "properties": {
                "terms": {"properties": {"field": _KEYWORD, "value": _KEYWORD}},
                "key": _KEYWORD,
                "start": _DATE,
                "end": _DATE,
                "until": _DATE,
                "docs_count": {"type": "long"},
            }
        },
        "rule": {
            "properties": {
                "uuid": _KEYWORD,
                "name": _KEYWORD,
                "version": _KEYWORD,
                "content_hash": _KEYWORD,
                "query": {"type": "keyword", "index": False, "doc_values": False},
                "index": _KEYWORD,
                "tags": _KEYWORD,
                "group": _KEYWORD,
                "time_field": _KEYWORD,
            }
        },
    }
    mappings = {
        "dynamic": False,
        "properties": {
            "@timestamp": _DATE,
            "event": {"properties": {"kind": _KEYWORD, "action": _KEYWORD, "dataset": _KEYWORD}},
            "soar": {"properties": {"alert": {"properties": alert}}},
        },
    }
    return {"index_patterns": [namespace_pattern], "template": {"mappings": mappings}, "priority": 200}


def checkpoints_template() -> dict[str, Any]:
    """The index template of the checkpoint indices."""
    properties = {
        "rule_id": _KEYWORD,
        "group_id": _KEYWORD,
        "content_hash": _KEYWORD,
        "time_field": _KEYWORD,
        "end": _DATE,
        "backlog": {"type": "boolean"},
        "updated_at": _DATE,
        "run_ids": _KEYWORD,
        "gaps": {
            "properties": {"start": _DATE, "end": _DATE, "filled": {"type": "boolean"}, "run_id": _KEYWORD}
        },
    }
    mappings = {"dynamic": False, "properties": properties}
    return {"index_patterns": ["soar-checkpoints-*"], "template": {"mappings": mappings}, "priority": 200}
