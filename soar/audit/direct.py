"""Appends outside workflows (the CLI recording people's actions), safe with many writers on one stream.

Optimistic concurrency: find the stream's head, create record seq+1 linked to it, and when another writer
took that place first (a 409), chain onto the record it wrote and try the next place. Workflow streams
belong to their workflow: direct appends go to streams no workflow writes, such as ``cli``.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from typing import Any

from soar.audit.models import AuditEntry, AuditRecord, StreamHead, input_hash
from soar.audit.store import advance_head, ensure_audit_indices, place_record, stream_head
from soar.engines.search import SearchClient
from soar.errors import AuditError

CLI_STREAM = "cli"
ATTEMPTS = 100


async def append_direct(
    search: SearchClient,
    namespace: str,
    *,
    actor: str,
    action: str,
    subject: str = "",
    input: Any = None,
    result: dict[str, Any] | None = None,
    stream: str = CLI_STREAM,
) -> AuditRecord:
    """Append one record to a stream that no workflow writes, racing other writers safely.

    Args:
        search: The search client.
        namespace: The soar namespace (``settings.namespace``).
        actor: Who acted: a person's name.
        action: What happened (``AuditAction`` lists the vocabulary), e.g. ``incident.updated``.
        subject: The incident, action or alert id it concerns.
        input: What was acted on; only its hash is recorded.
        result: A short JSON summary; never a secret.
        stream: The stream (default ``cli``).

    Returns:
        The stored record.

    Raises:
        pydantic.ValidationError: a field is invalid.
        AuditError: the stream kept moving for ``ATTEMPTS`` tries, or holds a malformed record.
        SearchError: the search engine failed.
    """
    await ensure_audit_indices(search, namespace)
    fixed = {"actor": actor, "action": action, "subject": subject, "result": result or {}}
    digest = input_hash(input)
    head = await stream_head(search, namespace, stream)
    for attempt in range(ATTEMPTS):
        entry = AuditEntry(
            stream=stream,
            seq=head.seq + 1,
            at=datetime.now(UTC),
            input_hash=digest,
            prev_hash=head.hash,
            **fixed,
        )
        record = entry.sealed()
        holder = await place_record(search, namespace, record)
        if holder is None:
            await advance_head(search, namespace, record)
            return record
        head = StreamHead(stream=stream, seq=holder.seq, hash=holder.hash)
        # Writers that collided would collide again in lock step; a little jitter spreads them out.
        await asyncio.sleep(random.uniform(0, 0.005 * min(attempt + 1, 20)))  # jitter, not cryptography
    raise AuditError(f"{stream}: gave up appending after {ATTEMPTS} attempts; too many concurrent writers")
