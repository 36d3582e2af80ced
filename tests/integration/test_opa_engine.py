"""OPA decisions in the real embedded engine: free-form objects as flat_object, typed facts, no dead letters."""

from __future__ import annotations

from typing import Any

from soar.engines.search import SearchClient
from soar.telemetry.ingest import ingest_lines, install_templates, refresh
from soar.telemetry.sources import SOURCES, Source, dead_letter_index
from tests.conftest import FIXTURES

INDEX = SOURCES[Source.OPA].index("default")
LINES = (FIXTURES / "telemetry" / "opa" / "decisions.jsonl").read_text("utf-8").splitlines()


async def _ids(client: SearchClient, query: dict[str, Any]) -> list[str]:
    result = await client.es.search(index=INDEX, query=query, size=50, sort=[{"event.id": "asc"}])
    return [hit["_source"]["event"]["id"] for hit in result["hits"]["hits"]]


async def test_decisions_are_indexed_with_their_free_form_objects_intact(search: SearchClient) -> None:
    await install_templates(search)
    report = await ingest_lines(search, Source.OPA, LINES)
    await refresh(search)
    assert report.counts(INDEX).indexed == len(LINES)
    assert report.counts(INDEX).dead_lettered == 0
    assert dead_letter_index("default") not in report.indices
    mapping = await search.es.indices.get_mapping(index=INDEX)
    opa = mapping[INDEX]["mappings"]["properties"]["opa"]["properties"]
    assert {opa[key]["type"] for key in ("input", "result", "labels")} == {"flat_object"}

    # A keyed sub-field of the flat_object, matched whatever its case.
    user = {"term": {"opa.input.subject.user": {"value": "T.KOWALSKI", "case_insensitive": True}}}
    assert await _ids(search, user) == ["0b6e2f6a-3c1d-4f0e-9a51-1f2a3b4c5d02"]
    # The lifted typed fields keep their types next to the flat_object.
    assert await _ids(search, {"range": {"opa.amount": {"gte": 100000}}}) == [
        "0b6e2f6a-3c1d-4f0e-9a51-1f2a3b4c5d02"
    ]
    assert await _ids(search, {"term": {"opa.mfa": False}}) == ["0b6e2f6a-3c1d-4f0e-9a51-1f2a3b4c5d02"]

    # _source holds the JSON values as OPA logged them, not strings.
    hits = await search.es.search(index=INDEX, query=user)
    stored = hits["hits"]["hits"][0]["_source"]["opa"]
    assert stored["input"]["subject"]["mfa"] is False
    assert stored["input"]["resource"]["amount"] == 250000
    assert stored["result"]["allow"] is False
