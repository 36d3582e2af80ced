"""Writing alerts: create-only bulk writes, where an alert that exists already (409) is a duplicate, not an error."""

from __future__ import annotations

from typing import Any

from elasticsearch import ApiError

from soar.detect.handover import offer_created
from soar.engines.search import SearchClient, search_error
from soar.errors import SearchError


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
    created: list[bool] = []
    for entry in response["items"]:
        status = entry["create"].get("status", 500)
        if status >= 300 and status != 409:
            reason = str(entry["create"].get("error"))[:300]
            raise SearchError(f"writing alert of rule {rule_id}: {reason}")
        created.append(status != 409)
    offer_created(index, [doc for (_, doc), new in zip(alerts, created, strict=True) if new])
    return created
