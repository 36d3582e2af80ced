"""Checkpoints: one document per rule in ``soar-checkpoints-<namespace>``, where people can read them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from elasticsearch import ApiError, NotFoundError

from soar.detect.alerts import alerts_index, alerts_template, checkpoints_index, checkpoints_template
from soar.detect.models import Checkpoint
from soar.engines.search import SearchClient, search_error


async def ensure_indices(client: SearchClient, namespace: str) -> None:
    """Install the alert and checkpoint index templates and create both indices of the namespace."""
    templates = {"soar-alerts": alerts_template(), "soar-checkpoints": checkpoints_template()}
    try:
        for name, body in templates.items():
            await client.es.indices.put_index_template(name=name, **body)
        for index in (alerts_index(namespace), checkpoints_index(namespace)):
            if not await client.es.indices.exists(index=index):
                await client.es.indices.create(index=index)
    except ApiError as exc:
        if "resource_already_exists" not in str(exc):  # another worker created it first
            raise search_error(exc, "creating the alert and checkpoint indices") from None
    try:  # an alerts index made by an older soar lacks newer fields (suppression keys): add them in place
        await client.es.indices.put_mapping(
            index=alerts_index(namespace), **alerts_template()["template"]["mappings"]
        )
    except ApiError as exc:
        raise search_error(exc, "updating the alerts index mapping") from None


async def read_checkpoints(
    client: SearchClient, namespace: str, rule_ids: Iterable[str]
) -> dict[str, Checkpoint]:
    """The checkpoints of these rules, by rule id (rules never swept are absent)."""
    ids = list(rule_ids)
    if not ids:
        return {}
    try:
        response = await client.es.mget(index=checkpoints_index(namespace), ids=ids)
    except NotFoundError:
        return {}
    except ApiError as exc:
        raise search_error(exc, "reading checkpoints") from None
    return {
        doc["_id"]: Checkpoint.model_validate(doc["_source"]) for doc in response["docs"] if doc.get("found")
    }


async def write_checkpoints(client: SearchClient, namespace: str, checkpoints: Iterable[Checkpoint]) -> None:
    """Write checkpoints (one document per rule, replaced), visible to the next sweep at once."""
    operations: list[dict[str, Any]] = []
    for checkpoint in checkpoints:
        operations.append({"index": {"_index": checkpoints_index(namespace), "_id": checkpoint.rule_id}})
        operations.append(checkpoint.model_dump(mode="json"))
    if not operations:
        return
    try:
        response = await client.es.bulk(operations=operations, refresh="wait_for")
    except ApiError as exc:
        raise search_error(exc, "writing checkpoints") from None
    if response.get("errors"):
        failed = next(i for i in response["items"] if "error" in next(iter(i.values())))
        raise search_error(RuntimeError(str(failed)[:300]), "writing checkpoints")
