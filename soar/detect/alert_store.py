"""Writing alerts: create-only bulk writes, where an alert that exists already (409) is a duplicate, not an error.

:func:`create_alerts` writes one rule's alerts in one request. :class:`AlertBulk` gathers the alerts of
every rule of a sweep step into few large requests (up to ``BULK_BYTES``): most rules have a few hits, and
a bulk per rule made a step's writes mostly request overhead. Elasticsearch's tuning guide puts good bulk
sizes at a few MB to tens of MB; osmem, measured with the detection bench's 11,096 alerts (about 4.5 KB
each), spent 15-19 CPU-s in bulks of 500 or fewer and 8-10 CPU-s in bulks of 1,000 to 4,000.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import orjson
from elasticsearch import ApiError

from soar.detect.handover import offer_created, offering
from soar.engines.search import SearchClient, search_error
from soar.errors import SearchError

BULK_BYTES = 8 * 1024 * 1024  # well under Elasticsearch's default http.max_content_length of 100 MB
BULK_DOCS = 5000

Tally = Callable[[int, int], None]
"""Told, once a bulk is written, how many of an owner's alerts in it were created and how many existed."""


def _statuses(response: Any, rule_ids: list[str]) -> list[bool]:
    """Per item of a create-only bulk: True if created, False if it existed (409).

    Raises:
        SearchError: the engine refused an alert for another reason than a conflict.
    """
    created: list[bool] = []
    for entry, rule_id in zip(response["items"], rule_ids, strict=True):
        status = entry["create"].get("status", 500)
        if status >= 300 and status != 409:
            reason = str(entry["create"].get("error"))[:300]
            raise SearchError(f"writing alert of rule {rule_id}: {reason}")
        created.append(status != 409)
    return created


async def create_alerts(
    client: SearchClient, index: str, rule_id: str, alerts: list[tuple[str, dict[str, Any]]]
) -> list[bool]:
    """Create each ``(id, document)`` with ``op_type: create``; per alert, True if created now, False if it existed.

    The alerts created now are offered to the running step's prompt hand-over (:func:`offer_created`).

    Raises:
        SearchError: the write failed, or the engine refused an alert for another reason than a conflict.
    """
    if not alerts:
        return []
    operations: list[dict[str, Any]] = []
    for uid, doc in alerts:
        operations += [{"create": {"_index": index, "_id": uid}}, doc]
    try:
        response = await client.es.bulk(operations=operations)
    except ApiError as exc:
        raise search_error(exc, f"writing alerts of rule {rule_id}") from None
    created = _statuses(response, [rule_id] * len(alerts))
    offer_created(index, [doc for (_, doc), new in zip(alerts, created, strict=True) if new])
    return created


def _json(document: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(document)
    except TypeError:  # orjson refuses what JSON allows but it does not (integers beyond 64 bits)
        return json.dumps(document, separators=(",", ":")).encode()


@dataclass
class _Pending:
    rule_id: str
    document: dict[str, Any] | None  # kept for a prompt hand-over only: held by thousands, they cost GC time
    tally: Tally


class AlertBulk:
    """Alerts of many rules gathered into create-only bulks of about ``max_bytes``, one bulk written at a time.

    Each alert is serialised once, when added; an owner learns its created and duplicate counts through its
    ``tally`` when the bulk holding its alerts is written. :meth:`flush` writes what is gathered and returns
    once every alert added before it is written, also those in a bulk another task was writing.
    """

    def __init__(
        self, client: SearchClient, index: str, *, max_bytes: int | None = None, max_docs: int | None = None
    ) -> None:
        self.client = client
        self.index = index
        self.max_bytes = max_bytes or BULK_BYTES
        self.max_docs = max_docs or BULK_DOCS
        self._pending: list[_Pending] = []
        self._lines: list[bytes] = []
        self._bytes = 0
        self._writing = asyncio.Lock()

    async def add(self, rule_id: str, alerts: list[tuple[str, dict[str, Any]]], tally: Tally) -> None:
        """Gather a rule's alerts; write the bulk once it is full.

        Raises:
            SearchError: a bulk written now failed, or the engine refused an alert in it.
        """
        keep = offering()
        for uid, document in alerts:
            action = orjson.dumps({"create": {"_index": self.index, "_id": uid}})
            body = _json(document)
            self._pending.append(_Pending(rule_id, document if keep else None, tally))
            self._lines += [action, body]
            self._bytes += len(action) + len(body) + 2
        if self._bytes >= self.max_bytes or len(self._pending) >= self.max_docs:
            await self.flush()

    async def flush(self) -> None:
        """Write every alert gathered so far.

        Raises:
            SearchError: the write failed, or the engine refused an alert for another reason than a conflict.
        """
        async with self._writing:  # after a bulk in flight: the caller's alerts may be in it
            pending, lines = self._pending, self._lines
            if not pending:
                return
            self._pending, self._lines, self._bytes = [], [], 0
            rule_ids = sorted({p.rule_id for p in pending})
            try:
                response = await self.client.es.bulk(operations=cast(Any, lines))  # NDJSON lines, as bytes
            except ApiError as exc:
                raise search_error(exc, f"writing alerts of rules {', '.join(rule_ids)[:300]}") from None
            created = _statuses(response, [p.rule_id for p in pending])
            counts: dict[Tally, list[int]] = {}
            for item, new in zip(pending, created, strict=True):
                counts.setdefault(item.tally, [0, 0])[0 if new else 1] += 1
            for tally, (made, existed) in counts.items():
                tally(made, existed)
            offered = [
                p.document for p, new in zip(pending, created, strict=True) if new and p.document is not None
            ]
            offer_created(self.index, offered)
