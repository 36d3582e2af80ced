"""Secret values in Kubernetes audit events: found and replaced by ``[REDACTED]`` before anything is stored."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from soar.errors import NormalisationError
from soar.telemetry.normalisers import kubernetes_aks as aks

# Secret values never reach a document: what replaces each one, and the annotation in which kubectl keeps
# the whole applied Secret as JSON.
REDACTED = "[REDACTED]"
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# The audit Event's objects and the members of GKE's protoPayload they come from.
GCP_NAMES = {"requestObject": "request", "responseObject": "response"}


def may_hold_secrets(raw: str) -> bool:
    r"""False only when no Secret can be in the line: cheap, and never wrong.

    Everything :func:`redact_secrets` acts on is named by a string containing ``ecret`` (kind ``Secret``
    or ``SecretList``, GKE's ``...Secret`` type, the ``secrets`` resource, in the line itself or in the
    text of an envelope's log); a parsed string can only lack it in the line when spelled with ``\u``
    escapes.
    """
    return "ecret" in raw or "\\u" in raw


def redact_raw(raw: str) -> str:
    """The raw line with Secret values redacted, for records that never become documents (dead letters).

    A line that parses is redacted exactly as :func:`normalise` would. A line that does not parse but
    looks like it carries Secret data is replaced whole by a marker with its SHA-256 and length, so it can
    still be matched against the source without the secret being stored.
    """
    try:
        entry = json.loads(raw)
    except (ValueError, RecursionError):
        return _fingerprint(raw) if _mentions_secret_data(raw) else raw
    if not isinstance(entry, dict):
        return raw
    native = entry
    proto = entry.get("protoPayload")
    if isinstance(proto, dict):  # GKE: a view with the audit Event's names over the same objects
        about = "/secrets" in str(proto.get("resourceName", ""))
        native = {
            "objectRef": {"resource": "secrets" if about else None},
            "requestObject": proto.get("request"),
            "responseObject": proto.get("response"),
        }
    elif aks.is_aks(entry):
        try:
            native = aks.from_aks(entry)[0]
        except NormalisationError:
            return _fingerprint(raw) if _mentions_secret_data(raw) else raw
    if redact_secrets(native):
        if aks.is_aks(entry):
            aks.rewrap(entry, native)
        return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
    return raw


def _mentions_secret_data(raw: str) -> bool:
    lowered = raw.lower()
    return "secret" in lowered and ('"data' in lowered or "stringdata" in lowered)


def _fingerprint(raw: str) -> str:
    digest = hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{REDACTED} unparseable record about Kubernetes secrets: sha256={digest}, {len(raw)} chars"


def redact_secrets(native: dict[str, Any]) -> list[str]:
    """Replace, in place, every Secret value in the request and response objects; the keys stay.

    An object is a Secret when its ``kind`` (or GKE's ``@type``) says so, when it is an item of a
    SecretList, or, for an event on the ``secrets`` resource, when it is the top-level object and names no
    kind (a merge patch); JSON-patch operations on a Secret lose their ``value``.

    Returns:
        The members (``requestObject``, ``responseObject``) in which something was redacted.
    """
    ref = native.get("objectRef")
    about_secrets = isinstance(ref, dict) and ref.get("resource") == "secrets"
    return [key for key in GCP_NAMES if _redact_tree(native.get(key), about_secrets)]


def _kind(obj: dict[str, Any]) -> str | None:
    kind = obj.get("kind")
    if isinstance(kind, str):
        return kind
    gcp_type = obj.get("@type")  # "core.k8s.io/v1.Secret"
    return gcp_type.rpartition(".")[2] if isinstance(gcp_type, str) and "/" in gcp_type else None


def _redact_tree(root: Any, about_secrets: bool) -> bool:
    """Redact the Secrets anywhere in ``root`` (iteratively: audit objects may nest deeply)."""
    changed = False
    if about_secrets and isinstance(root, list):  # a JSON patch: [{"op", "path", "value"}, ...]
        for op in root:
            if isinstance(op, dict) and "value" in op:
                op["value"], changed = REDACTED, True
    stack: list[tuple[Any, bool]] = [(root, about_secrets)]
    while stack:
        node, is_secret = stack.pop()
        if isinstance(node, list):
            stack.extend((item, False) for item in node)
            continue
        if not isinstance(node, dict):
            continue
        kind = _kind(node)
        if kind == "Secret" or (is_secret and kind is None):
            changed = _redact_secret(node) or changed
        items_are_secrets = kind == "SecretList" or (is_secret and kind is None)
        for key, child in node.items():
            if key == "items" and items_are_secrets and isinstance(child, list):
                stack.extend((item, True) for item in child)
            elif isinstance(child, dict | list):
                stack.append((child, False))
    return changed


def _redact_secret(secret: dict[str, Any]) -> bool:
    changed = False
    for key in ("data", "stringData"):
        values = secret.get(key)
        if isinstance(values, dict):
            for name in values:
                values[name], changed = REDACTED, True
        elif values is not None:
            secret[key], changed = REDACTED, True
    metadata = secret.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if isinstance(annotations, dict) and annotations.get(_LAST_APPLIED) is not None:
        annotations[_LAST_APPLIED], changed = _redacted_last_applied(annotations[_LAST_APPLIED]), True
    return changed


def _redacted_last_applied(text: Any) -> str:
    """The applied Secret kubectl stored as JSON, with its values redacted; wholly redacted if unreadable."""
    try:
        applied = json.loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError):
        applied = None
    if not isinstance(applied, dict):
        return REDACTED
    _redact_tree(applied, about_secrets=True)
    return json.dumps(applied, ensure_ascii=False, separators=(",", ":"))
