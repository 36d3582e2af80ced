"""Records that are dead-lettered never carry Kubernetes Secret values into the dead-letter index."""

from __future__ import annotations

import hashlib
import json

from soar.telemetry.normalise import DeadLetter, normalise_lines
from soar.telemetry.sources import Source

SECRET = "cGFzc3dvcmQtZm9yLWxlZGdlci1kYg=="


def _secret_create(**overrides: object) -> dict[str, object]:
    event: dict[str, object] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse",
        "auditID": "6f1c0d5e-0000-4000-8000-000000000001",
        "stage": "ResponseComplete",
        "verb": "create",
        "user": {"username": "dev@bank.example"},
        "objectRef": {"resource": "secrets", "namespace": "core", "name": "ledger-db"},
        "requestObject": {"kind": "Secret", "apiVersion": "v1", "data": {"password": SECRET}},
        "stageTimestamp": "2026-11-23T10:00:00.000000Z",
        "responseStatus": {"code": "created"},  # not a number: the record cannot be normalised
    }
    event.update(overrides)
    return event


def _only_letter(lines: list[str]) -> DeadLetter:
    items = list(normalise_lines(Source.KUBERNETES, lines))
    assert len(items) == 1
    letter = items[0]
    assert isinstance(letter, DeadLetter)
    return letter


def test_parseable_secret_event_is_redacted_but_kept() -> None:
    letter = _only_letter([json.dumps(_secret_create())])
    assert SECRET not in letter.raw
    kept = json.loads(letter.raw)
    assert kept["requestObject"]["data"] == {"password": "[REDACTED]"}  # which key existed stays visible
    assert kept["auditID"] == "6f1c0d5e-0000-4000-8000-000000000001"
    assert letter.error


def test_unparseable_line_about_secrets_keeps_only_a_fingerprint() -> None:
    broken = json.dumps(_secret_create())[:-20]
    letter = _only_letter([broken])
    assert SECRET not in letter.raw
    assert hashlib.sha256(broken.encode()).hexdigest() in letter.raw
    assert letter.raw.startswith("[REDACTED]")


def test_gke_entry_about_secrets_is_redacted() -> None:
    entry = {
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "resourceName": "core/v1/namespaces/core/secrets/ledger-db",
            "request": {"@type": "core.k8s.io/v1.Secret", "data": {"password": SECRET}},
        },
    }
    letter = _only_letter([json.dumps(entry)])
    assert SECRET not in letter.raw
    assert json.loads(letter.raw)["protoPayload"]["request"]["data"]["password"] == "[REDACTED]"


def test_other_bad_records_are_kept_byte_for_byte() -> None:
    line = '{"kind": "Event", "verb": "get", "stageTimestamp": "soon", "objectRef": {"resource": "pods"}}'
    assert _only_letter([line]).raw == line
    assert _only_letter(["not json at all"]).raw == "not json at all"
