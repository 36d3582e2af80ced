"""Bulk ingest of raw telemetry: normalise, index with backpressure, dead-letter whatever fails.

Document ids are a hash of the source and the raw record, and every write is ``create``: ingesting the same
file twice writes nothing new (counted as duplicates), and alert ids derived from source ids stay stable.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError
from elasticsearch.helpers import async_streaming_bulk

from soar.engines.search import SearchClient, search_error
from soar.telemetry.ecs import format_timestamp
from soar.telemetry.normalise import DeadLetter, Normalised, normalise_lines
from soar.telemetry.sources import SOURCES, Source, dead_letter_index
from soar.telemetry.templates import index_template, template_name

ProgressFn = Callable[[int], None]

_CHUNK = 1000
_MAX_RETRIES = 8  # 429s from an overloaded cluster back off 2 s, 4 s, ... up to 8 times


@dataclass
class IndexCounts:
    """What happened to the records aimed at one index."""

    indexed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0


@dataclass
class IngestReport:
    """Counts per index (the dead-letter index counts what it received)."""

    indices: dict[str, IndexCounts] = field(default_factory=dict)

    def counts(self, index: str) -> IndexCounts:
        """The counts of one index, created on first use."""
        return self.indices.setdefault(index, IndexCounts())

    def merge(self, other: IngestReport) -> None:
        """Add another report's counts to this one."""
        for index, c in other.indices.items():
            mine = self.counts(index)
            mine.indexed += c.indexed
            mine.duplicates += c.duplicates
            mine.dead_lettered += c.dead_lettered

    @property
    def total_indexed(self) -> int:
        """Documents newly written to telemetry indices (dead letters excluded)."""
        return sum(c.indexed for name, c in self.indices.items() if not name.startswith("soar-deadletter"))

    def as_dict(self) -> dict[str, dict[str, int]]:
        """JSON-ready counts."""
        return {name: vars(c).copy() for name, c in sorted(self.indices.items())}


def document_id(source: Source, raw: str) -> str:
    """The deterministic id of a raw record."""
    return hashlib.sha256(f"{source.value}\x00{raw}".encode()).hexdigest()[:40]


async def install_templates(client: SearchClient) -> None:
    """Install (or update) the index template of every source."""
    try:
        health = await client.es.cluster.health()
    except ApiError as exc:
        raise search_error(exc, "reading cluster health") from None
    single_node = int(health.get("number_of_nodes", 0)) == 1
    for source in Source:
        body = index_template(source, opensearch=client.is_opensearch, single_node=single_node)
        try:
            await client.es.indices.put_index_template(name=template_name(source), **body)
        except ApiError as exc:
            raise search_error(exc, f"installing index template {template_name(source)}") from None


async def _bulk(
    client: SearchClient, actions: AsyncIterator[dict[str, Any]]
) -> AsyncIterator[tuple[bool, dict[str, Any]]]:
    async for ok, item in async_streaming_bulk(
        client.es,
        actions,
        chunk_size=_CHUNK,
        max_retries=_MAX_RETRIES,
        initial_backoff=2,
        raise_on_error=False,
        raise_on_exception=False,
        yield_ok=True,
    ):
        yield ok, item


async def write_dead_letters(client: SearchClient, letters: Iterable[DeadLetter], namespace: str) -> int:
    """Write dead letters to the dead-letter index; returns how many were written."""
    index = dead_letter_index(namespace)
    now = datetime.now(UTC)

    async def actions() -> AsyncIterator[dict[str, Any]]:
        for letter in letters:
            yield {"_op_type": "index", "_index": index, "_source": letter.to_source(now)}

    written = 0
    async for ok, item in _bulk(client, actions()):
        if not ok:
            # The last resort failed too: say so loudly rather than lose it silently.
            raise search_error(RuntimeError(json.dumps(item)[:300]), f"writing dead letters to {index}")
        written += 1
    return written


async def ingest_lines(
    client: SearchClient,
    source: Source,
    lines: Iterable[str],
    *,
    namespace: str = "default",
    file: str | None = None,
    progress: ProgressFn | None = None,
) -> IngestReport:
    """Normalise and index the raw lines of one source; bad records go to the dead-letter index."""
    index = SOURCES[source].index(namespace)
    report = IngestReport()
    counts = report.counts(index)
    letters: list[DeadLetter] = []
    in_flight: deque[tuple[int, str]] = deque()
    ingested = format_timestamp(datetime.now(UTC))

    async def actions() -> AsyncIterator[dict[str, Any]]:
        for item in normalise_lines(source, lines, file=file):
            if isinstance(item, DeadLetter):
                letters.append(item)
                continue
            # Recorded before the yield: the bulk helper may send a chunk before this generator resumes.
            in_flight.append((item.line, item.document["event"]["original"]))
            yield _action(source, index, item, ingested)

    async for ok, result in _bulk(client, actions()):
        line, raw = in_flight.popleft()
        outcome = next(iter(result.values()))
        if ok:
            counts.indexed += 1
        elif outcome.get("status") == 409:
            counts.duplicates += 1
        else:
            letters.append(DeadLetter(source.value, raw, _bulk_reason(outcome), line=line, file=file))
        if progress is not None:
            progress(1)
    if progress is not None and letters:
        progress(len(letters))
    if letters:
        report.counts(dead_letter_index(namespace)).dead_lettered += await write_dead_letters(
            client, letters, namespace
        )
        counts.dead_lettered += len(letters)
    return report


def _action(source: Source, index: str, item: Normalised, ingested: str) -> dict[str, Any]:
    doc = item.document
    doc["event"].setdefault("ingested", ingested)
    return {
        "_op_type": "create",
        "_index": index,
        "_id": document_id(source, doc["event"]["original"]),
        "_source": doc,
    }


def _bulk_reason(outcome: dict[str, Any]) -> str:
    error = outcome.get("error")
    if isinstance(error, dict):
        reason = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        caused = error.get("caused_by")
        if isinstance(caused, dict) and caused.get("reason"):
            reason += f" ({caused['reason']})"
        return f"rejected by the search engine: {reason}"
    return f"rejected by the search engine: HTTP {outcome.get('status')}"


async def refresh(client: SearchClient, namespace: str = "default") -> None:
    """Make everything written so far searchable."""
    names = [spec.index(namespace) for spec in SOURCES.values()] + [dead_letter_index(namespace)]
    try:
        await client.es.indices.refresh(index=",".join(names), ignore_unavailable=True, allow_no_indices=True)
    except ApiError as exc:
        raise search_error(exc, "refreshing telemetry indices") from None
