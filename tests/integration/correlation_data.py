"""Raw Okta System Log records with chosen times, users and addresses, for the correlation engine's tests."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from soar.config import Settings
from soar.engines.search import SearchClient
from soar.telemetry.ecs import format_timestamp
from soar.telemetry.ingest import ingest_lines, install_templates, refresh
from soar.telemetry.sources import Source

DETECTIONS = Path(__file__).resolve().parents[2] / "detections"
OKTA_RULES = ("okta-sign-in-failed", "okta-mfa-factor-reset", "okta-admin-privilege-granted")


def okta(
    at: datetime, action: str, user: str, ip: str, *, result: str = "SUCCESS", target: str | None = None
) -> str:
    """One Okta System Log record as the normaliser reads it."""
    uid = hashlib.sha256(f"{at.isoformat()}|{action}|{user}|{ip}|{result}|{target}".encode()).hexdigest()
    record: dict[str, Any] = {
        "uuid": f"{uid[:8]}-{uid[8:12]}-5{uid[13:16]}-8{uid[17:20]}-{uid[20:32]}",
        "published": format_timestamp(at),
        "eventType": action,
        "version": "0",
        "severity": "INFO" if result == "SUCCESS" else "WARN",
        "displayMessage": action,
        "actor": {"id": "00u" + uid[:17], "type": "User", "alternateId": user, "displayName": user},
        "client": {"ipAddress": ip, "zone": "null", "device": "Computer"},
        "outcome": {"result": result, "reason": None if result == "SUCCESS" else "INVALID_CREDENTIALS"},
        "target": []
        if target is None
        else [{"id": "00u" + uid[-17:], "type": "User", "alternateId": target}],
        "transaction": {"type": "WEB", "id": uid[:27], "detail": {}},
        "debugContext": {"debugData": {"requestId": uid[:27]}},
    }
    return json.dumps(record)


def minutes(start: datetime, *offsets: float) -> list[datetime]:
    """``start`` plus each offset in minutes."""
    return [start + timedelta(minutes=m) for m in offsets]


def aligned(now: datetime, back: timedelta, step: timedelta = timedelta(minutes=10)) -> datetime:
    """``now - back`` floored to a multiple of ``step`` (a tumbling-bucket boundary)."""
    moment = (now - back).astimezone(UTC)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((moment - epoch) // step) * step


async def ingest_okta(search: SearchClient, settings: Settings, lines: list[str]) -> None:
    """Index the records into the Okta data of the test's namespace, searchable on return."""
    await install_templates(search)
    report = await ingest_lines(search, Source.OKTA, lines, namespace=settings.namespace)
    assert report.total_indexed == len(lines), report.as_dict()
    await refresh(search, settings.namespace)
