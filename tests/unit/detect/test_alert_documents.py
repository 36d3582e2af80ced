from __future__ import annotations

from datetime import UTC, datetime

from soar.detect.alerts import AlertContext, alert_document, alert_documents
from soar.detect.models import DetectRule, Window
from soar.detect.settings import RuleOptions
from soar.rules.models import CompiledRule
from soar.telemetry.sources import Source

RULE = CompiledRule(
    rule_id="r1",
    title="Okta sign-in failed",
    level="high",
    tags=["attack.credential-access", "attack.t1110.003"],
    source=Source.OKTA,
    index="logs-okta.system-*",
    query={"term": {"event.action": {"value": "x"}}},
    content_hash="abc",
    path="r.yml",
)
T = datetime(2026, 11, 23, 12, tzinfo=UTC)
CTX = AlertContext(
    rule=DetectRule(rule=RULE, options=RuleOptions()),
    group_id="okta",
    run_id="run-1",
    window=Window(start=T, end=T.replace(hour=13)),
    created=T,
)


def _hit(n: int) -> dict[str, object]:
    source = {"@timestamp": f"2026-11-23T11:00:0{n}.000Z", "user": {"name": f"u{n}"}}
    return {"_index": "logs-okta.system-default", "_id": f"src{n}", "_source": source}


def test_alert_documents_equal_one_alert_document_per_hit() -> None:
    hits = [_hit(n) for n in range(3)]
    assert alert_documents(CTX, hits) == [alert_document(CTX, hit) for hit in hits]


def test_alerts_of_one_window_share_no_mutable_part() -> None:
    (_, first), (_, second) = alert_documents(CTX, [_hit(1), _hit(2)])
    first["soar"]["alert"]["rule"]["tags"].append("changed")
    first["soar"]["alert"]["threat"]["tactic"].append("changed")
    first["soar"]["alert"]["window"]["end"] = "changed"
    alert = second["soar"]["alert"]
    assert alert["rule"]["tags"] == RULE.tags == ["attack.credential-access", "attack.t1110.003"]
    assert alert["threat"] == {"technique": ["T1110.003"], "tactic": ["credential-access"]}
    assert alert["window"] == {"start": "2026-11-23T12:00:00.000Z", "end": "2026-11-23T13:00:00.000Z"}
