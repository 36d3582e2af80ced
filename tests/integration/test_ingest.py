"""Ingest into the real embedded engine: templates, counts, dead letters, idempotence, bulk rejections."""

from __future__ import annotations

from pathlib import Path

import pytest

from soar.engines.search import SearchClient
from soar.telemetry.ingest import ingest_lines, install_templates, refresh
from soar.telemetry.normalise import DeadLetter, normalise_lines
from soar.telemetry.sources import SOURCES, Source, dead_letter_index
from soar.telemetry.templates import template_name
from tests.conftest import FIXTURES

GOOD = {
    Source.OKTA: "okta/system.jsonl",
    Source.KUBERNETES: "kubernetes/audit.jsonl",
    Source.ENVOY: "envoy/json.log",
    Source.OPA: "opa/decisions.jsonl",
    Source.APP: "app/payments.jsonl",
}


def _lines(relative: str) -> list[str]:
    return (FIXTURES / "telemetry" / relative).read_text("utf-8").splitlines()


async def _count(client: SearchClient, index: str, query: dict[str, object] | None = None) -> int:
    result = await client.es.count(index=index, query=query or {"match_all": {}})
    return int(result["count"])


async def test_every_source_template_is_accepted_by_the_engine(search: SearchClient) -> None:
    await install_templates(search)
    for source, spec in SOURCES.items():
        templates = await search.es.indices.get_index_template(name=template_name(source))
        assert templates["index_templates"][0]["index_template"]["index_patterns"] == [spec.index_pattern]
        # Creating an index from it proves the mappings (flat_object, ip, scaled_float ...) are valid here.
        await search.es.indices.create(index=spec.index("probe"))
        mapping = await search.es.indices.get_mapping(index=spec.index("probe"))
        assert (
            mapping[spec.index("probe")]["mappings"]["properties"]["source"]["properties"]["ip"]["type"]
            == "ip"
        )


@pytest.mark.parametrize("source", list(GOOD))
async def test_fixture_files_ingest_without_loss(search: SearchClient, source: Source) -> None:
    await install_templates(search)
    lines = _lines(GOOD[source])
    expected = sum(1 for line in lines if line.strip())
    report = await ingest_lines(search, source, lines, file=GOOD[source])
    await refresh(search)
    index = SOURCES[source].index()
    assert report.counts(index).indexed == expected
    assert report.counts(index).dead_lettered == 0
    assert await _count(search, index) == expected


async def test_bad_records_reach_the_dead_letter_index_with_line_and_reason(search: SearchClient) -> None:
    await install_templates(search)
    good, bad = _lines("okta/system.jsonl"), _lines("okta/bad.jsonl")
    lines = [*good, *bad]
    report = await ingest_lines(search, Source.OKTA, lines, file="mixed.jsonl")
    await refresh(search)
    n_bad = sum(isinstance(item, DeadLetter) for item in normalise_lines(Source.OKTA, bad))
    assert n_bad >= 5
    assert report.counts(SOURCES[Source.OKTA].index()).dead_lettered == n_bad
    assert report.counts(dead_letter_index()).dead_lettered == n_bad
    hits = (await search.es.search(index=dead_letter_index(), size=100))["hits"]["hits"]
    assert len(hits) == n_bad
    lines_seen = sorted(h["_source"]["soar"]["deadletter"]["line"] for h in hits)
    assert all(line > len(good) for line in lines_seen)
    for hit in hits:
        letter = hit["_source"]
        assert letter["soar"]["deadletter"]["source"] == "okta"
        assert letter["soar"]["deadletter"]["file"] == "mixed.jsonl"
        assert letter["soar"]["deadletter"]["error"]
        # Nothing is lost: the raw record is kept whole.
        assert letter["event"]["original"] == lines[letter["soar"]["deadletter"]["line"] - 1]


async def test_reingesting_the_same_file_writes_nothing_new(search: SearchClient) -> None:
    await install_templates(search)
    lines = _lines("kubernetes/audit.jsonl")
    first = await ingest_lines(search, Source.KUBERNETES, lines)
    second = await ingest_lines(search, Source.KUBERNETES, lines)
    await refresh(search)
    index = SOURCES[Source.KUBERNETES].index()
    assert first.counts(index).indexed == await _count(search, index)
    assert second.counts(index).indexed == 0
    assert second.counts(index).duplicates == first.counts(index).indexed


async def test_documents_the_engine_rejects_are_dead_lettered(search: SearchClient) -> None:
    # Someone created the index by hand with a conflicting mapping: every write is rejected per item.
    index = SOURCES[Source.APP].index()
    await search.es.indices.create(
        index=index, mappings={"properties": {"event": {"properties": {"dataset": {"type": "long"}}}}}
    )
    lines = _lines("app/payments.jsonl")
    report = await ingest_lines(search, Source.APP, lines, file="payments.jsonl")
    await refresh(search)
    n = sum(1 for line in lines if line.strip())
    assert report.counts(index).indexed == 0
    assert report.counts(dead_letter_index()).dead_lettered == n
    letter = (await search.es.search(index=dead_letter_index(), size=1))["hits"]["hits"][0]["_source"]
    assert letter["soar"]["deadletter"]["error"].startswith("rejected by the search engine")


def test_fixtures_exist() -> None:
    for relative in GOOD.values():
        assert Path(FIXTURES / "telemetry" / relative).is_file()
