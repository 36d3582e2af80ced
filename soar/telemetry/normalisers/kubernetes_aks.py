"""AKS diagnostic-log envelopes: Azure Monitor records that carry an audit Event as JSON text."""

from __future__ import annotations

import json
from typing import Any

from soar.errors import NormalisationError
from soar.telemetry.normalisers._util import as_str

# Azure Monitor diagnostic categories that carry kube-apiserver audit events.
AUDIT_CATEGORIES = frozenset({"kube-audit", "kube-audit-admin"})


def is_aks(entry: dict[str, Any]) -> bool:
    """True when the record is an AKS diagnostic-log envelope around an audit event."""
    props = entry.get("properties")
    return entry.get("category") in AUDIT_CATEGORIES and isinstance(props, dict) and "log" in props


def from_aks(entry: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The audit Event inside an AKS envelope, and the ECS fields the envelope adds.

    Raises:
        NormalisationError: ``properties.log`` is not a JSON object.
    """
    text = entry["properties"]["log"]
    try:
        native = json.loads(text) if isinstance(text, str) else text
    except (ValueError, RecursionError):
        raise NormalisationError("not a JSON audit event", field="properties.log") from None
    if not isinstance(native, dict):
        raise NormalisationError("not a JSON audit event", field="properties.log")
    extra = {
        "cloud": {"provider": "azure", "account": {"id": _subscription(entry.get("resourceId"))}},
        "azure": {"resource_id": as_str(entry.get("resourceId")), "category": entry.get("category")},
        "orchestrator": {"cluster": {"name": _cluster(entry.get("resourceId"))}},
    }
    return native, extra


def rewrap(entry: dict[str, Any], native: dict[str, Any]) -> None:
    """Put a (redacted) audit Event back into its envelope, as text when it came as text."""
    props = entry["properties"]
    props["log"] = (
        json.dumps(native, ensure_ascii=False, separators=(",", ":"))
        if isinstance(props["log"], str)
        else native
    )


def _subscription(resource_id: Any) -> str | None:
    parts = resource_id.strip("/").split("/") if isinstance(resource_id, str) else []
    lowered = [p.lower() for p in parts]
    return parts[lowered.index("subscriptions") + 1] if "subscriptions" in lowered[:-1] else None


def _cluster(resource_id: Any) -> str | None:
    parts = resource_id.strip("/").split("/") if isinstance(resource_id, str) else []
    lowered = [p.lower() for p in parts]
    return parts[lowered.index("managedclusters") + 1] if "managedclusters" in lowered[:-1] else None
