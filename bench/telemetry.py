"""Normalisation throughput per source and ingest throughput into the embedded engine.

Normalisation runs on one core over the default scenario's raw records, side by side with ``json.loads`` of
the same lines (the floor any JSON normaliser pays). Ingest runs soar's pipeline (normalise + bulk create)
side by side with a plain bulk of the already-normalised documents into the same engine.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from elasticsearch.helpers import async_bulk
from osmem_server import OsmemServer

from soar.config import SearchSettings
from soar.engines.search import connect_search
from soar.telemetry.ingest import ingest_lines, install_templates
from soar.telemetry.normalise import Normalised, normalise_lines
from soar.telemetry.scenario import Scenario, generate
from soar.telemetry.sources import SOURCES, Source


def _best_of(fn: Any, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def normalisation(scenario: Scenario) -> list[dict[str, Any]]:
    """Events per second per source through soar's normalisation (framework included), one core."""
    rows = []
    for source, lines in scenario.records.items():
        # Enough lines for a stable figure even for small sources.
        sample = (lines * (1 + 20_000 // max(len(lines), 1)))[:20_000]
        ours = _best_of(lambda s=source, ls=sample: sum(1 for _ in normalise_lines(s, ls)))
        floor = _best_of(lambda ls=sample: [json.loads(x) for x in ls if x.startswith("{")])
        rows.append(
            {
                "source": source.value,
                "events": len(sample),
                "events_per_s": len(sample) / ours,
                "ratio_to_json_loads": ours / floor if floor else float("nan"),
            }
        )
    return rows


async def _ingest(scenario: Scenario) -> dict[str, Any]:
    server = OsmemServer.start(japanese=False)
    try:
        settings = SearchSettings(urls=[server.url])
        async with await connect_search(settings) as client:
            await install_templates(client)
            lines = scenario.records[Source.ENVOY] + scenario.records[Source.APP]
            started = time.perf_counter()
            await ingest_lines(client, Source.ENVOY, scenario.records[Source.ENVOY], namespace="soar")
            await ingest_lines(client, Source.APP, scenario.records[Source.APP], namespace="soar")
            ours = time.perf_counter() - started
            # The same documents, already normalised, into the same templates (namespace "plain").
            actions = [
                {"_index": SOURCES[source].index("plain"), "_source": item.document}
                for source in (Source.ENVOY, Source.APP)
                for item in normalise_lines(source, scenario.records[source])
                if isinstance(item, Normalised)
            ]
            started = time.perf_counter()
            await async_bulk(client.es, actions, chunk_size=1000)
            plain = time.perf_counter() - started
            docs = actions
    finally:
        server.close()
        if server.process.stdout is not None:
            server.process.stdout.close()
    return {
        "events": len(lines),
        "soar_docs_per_s": len(lines) / ours,
        "plain_bulk_docs_per_s": len(docs) / plain,
        "ratio_soar_to_plain": ours / plain,
    }


def run() -> str:
    """Run both benchmarks and return the Markdown section."""
    started = time.perf_counter()
    scenario = generate("default")
    generation = time.perf_counter() - started
    norm = normalisation(scenario)
    ingest = asyncio.run(_ingest(scenario))
    out = [
        "## Telemetry: normalisation and ingest",
        "",
        f"Default scenario: {sum(scenario.counts().values()):,} raw events generated in {generation:.2f} s.",
        "",
        "| source | events | events/s (one core, best of 5) | time vs `json.loads` of the same lines |",
        "| --- | ---: | ---: | ---: |",
    ]
    for row in norm:
        out.append(
            f"| {row['source']} | {row['events']:,} | {row['events_per_s']:,.0f} | {row['ratio_to_json_loads']:.1f}x |"
        )
    out += [
        "",
        f"Ingest into osmem ({ingest['events']:,} Envoy and payment events): soar {ingest['soar_docs_per_s']:,.0f} docs/s "
        f"(normalise + bulk create with deterministic ids) vs a plain bulk of the same documents, already normalised, into the same templates "
        f"{ingest['plain_bulk_docs_per_s']:,.0f} docs/s: soar takes {ingest['ratio_soar_to_plain']:.2f}x the time.",
        "",
    ]
    return "\n".join(out)
