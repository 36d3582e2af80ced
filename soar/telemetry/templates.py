"""ECS index templates per source: the shared ECS base plus each source's own mappings (JSON data files)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from soar.telemetry.sources import SOURCES, Source

_TEMPLATE_PRIORITY = 200  # above the built-in logs-*-* template of Elasticsearch (priority 100)


@cache
def _load(name: str) -> dict[str, Any]:
    text = resources.files("soar.telemetry").joinpath("templates", f"{name}.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if key in merged and isinstance(merged[key], dict) and isinstance(value, dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@cache
def mappings(source: Source) -> dict[str, Any]:
    """The full ``mappings`` of a source's indices: ECS base merged with the source's fields."""
    base = _load("ecs_base")["mappings"]
    own = _load(source.value)["mappings"]
    return _merge(base, own)


def _for_opensearch(node: Any) -> Any:
    # Templates are written in Elasticsearch's terms; OpenSearch calls ``flattened`` ``flat_object``
    # and knows none of its parameters.
    if isinstance(node, dict):
        if node.get("type") == "flattened":
            return {"type": "flat_object"}
        return {key: _for_opensearch(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_for_opensearch(value) for value in node]
    return node


def index_template(source: Source, *, opensearch: bool = False, single_node: bool = False) -> dict[str, Any]:
    """The composable index template body for ``PUT _index_template/<name>``.

    Args:
        source: the telemetry source.
        opensearch: render for OpenSearch-compatible servers (``flat_object`` instead of ``flattened``).
        single_node: the cluster has one node, so replicas could never be allocated; ask for none.
    """
    spec = SOURCES[source]
    settings: dict[str, Any] = {"number_of_shards": 1, "index.mapping.total_fields.limit": 2000}
    if single_node:
        settings["number_of_replicas"] = 0
    return {
        "index_patterns": [spec.index_pattern],
        "priority": _TEMPLATE_PRIORITY,
        "template": {
            "settings": settings,
            "mappings": _for_opensearch(mappings(source)) if opensearch else mappings(source),
        },
        "_meta": {"managed_by": "soar", "source": source.value, "dataset": spec.dataset},
    }


def template_name(source: Source) -> str:
    """The name soar installs a source's index template under."""
    return f"soar-logs-{SOURCES[source].dataset}"


@cache
def field_types(source: Source) -> dict[str, str]:
    """Every mapped field of a source as ``dotted.path -> mapping type`` (object paths left out)."""
    out: dict[str, str] = {}

    def walk(props: dict[str, Any], prefix: str) -> None:
        for name, spec in props.items():
            path = f"{prefix}{name}"
            if "properties" in spec:
                walk(spec["properties"], f"{path}.")
            else:
                out[path] = spec.get("type", "object")
            for sub, sub_spec in spec.get("fields", {}).items():
                out[f"{path}.{sub}"] = sub_spec.get("type", "keyword")

    walk(mappings(source)["properties"], "")
    return out
