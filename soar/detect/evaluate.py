"""Alerts against a scenario's ground truth: per attack story, which of its events raised alerts; benign noise."""

from __future__ import annotations

import json
from typing import Any

from elasticsearch import ApiError
from pydantic import BaseModel, Field

from soar.detect.alerts import alerts_index
from soar.engines.search import SearchClient, search_error
from soar.telemetry.ingest import document_id
from soar.telemetry.scenario import ID_KEYS, Scenario
from soar.telemetry.sources import Source

_PAGE = 5000


class StoryScore(BaseModel):
    """How well one attack story was detected."""

    story: str
    expected_events: int
    alerted_events: int
    rules: list[str] = Field(default_factory=list)

    @property
    def recall(self) -> float:
        """Share of the story's events that raised at least one alert."""
        return self.alerted_events / self.expected_events if self.expected_events else 0.0


class Evaluation(BaseModel):
    """Per-story recall, and alerts on benign traffic (building blocks counted apart)."""

    stories: list[StoryScore]
    alerts: int
    benign_alerts: int
    benign_building_block_alerts: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "stories": [{**s.model_dump(), "recall": round(s.recall, 3)} for s in self.stories],
            "alerts": self.alerts,
            "benign_alerts": self.benign_alerts,
            "benign_building_block_alerts": self.benign_building_block_alerts,
        }


def native_to_document_ids(scenario: Scenario) -> dict[tuple[str, str], str]:
    """(source, native event id) -> the document id ingest gives the record."""
    ids: dict[tuple[str, str], str] = {}
    for source, lines in scenario.records.items():
        key = ID_KEYS[source]
        for line in lines:
            ids[(source.value, str(json.loads(line)[key]))] = document_id(Source(source), line)
    return ids


async def read_alerts(search: SearchClient, namespace: str) -> list[dict[str, Any]]:
    """Every alert's ``soar.alert`` part (source id, rule, severity)."""
    out: list[dict[str, Any]] = []
    after: list[Any] | None = None
    while True:
        try:
            response = await search.es.search(
                index=alerts_index(namespace),
                size=_PAGE,
                sort=[{"soar.alert.uuid": "asc"}],
                search_after=after,
                source_includes=[
                    "soar.alert.source",
                    "soar.alert.rule.name",
                    "soar.alert.building_block",
                    "soar.alert.correlation.sources",
                ],
            )
        except ApiError as exc:
            raise search_error(exc, "reading alerts") from None
        hits = response["hits"]["hits"]
        out.extend(hit["_source"]["soar"]["alert"] for hit in hits)
        if len(hits) < _PAGE:
            return out
        after = hits[-1]["sort"]


def _events(alert: dict[str, Any]) -> set[str]:
    """The source ids an alert stands for: its event, and a correlation's contributing events."""
    sources = (alert.get("correlation") or {}).get("sources") or []
    return {alert["source"]["id"], *(s["id"] for s in sources)}


async def evaluate(search: SearchClient, namespace: str, scenario: Scenario) -> Evaluation:
    """Compare the alerts in the namespace with the scenario's ground truth."""
    ids = native_to_document_ids(scenario)
    alerts = await read_alerts(search, namespace)
    by_source: dict[str, list[dict[str, Any]]] = {}
    for alert in alerts:
        for source_id in _events(alert):
            by_source.setdefault(source_id, []).append(alert)
    story_docs: set[str] = set()
    scores = []
    for story in scenario.stories:
        docs = {
            ids[(src, nid)] for src, natives in story.events.items() for nid in natives if (src, nid) in ids
        }
        story_docs |= docs
        hit = [d for d in docs if d in by_source]
        rules = sorted({a["rule"]["name"] for d in hit for a in by_source[d]})
        scores.append(
            StoryScore(story=story.id, expected_events=len(docs), alerted_events=len(hit), rules=rules)
        )
    benign = [a for a in alerts if not _events(a) & story_docs]
    blocks = sum(1 for a in benign if a.get("building_block"))
    return Evaluation(
        stories=scores,
        alerts=len(alerts),
        benign_alerts=len(benign) - blocks,
        benign_building_block_alerts=blocks,
    )
