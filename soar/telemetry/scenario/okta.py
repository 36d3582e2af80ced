"""Okta System Log records of the workforce identity provider."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from soar.telemetry.scenario.ids import base62, okta_id, ts_millis, uuid_like
from soar.telemetry.scenario.recorder import Context, Trail
from soar.telemetry.scenario.world import COUNTRY_NAMES, Employee
from soar.telemetry.sources import Source

ORG_URL = "https://bank.okta.com"
_CITIES = {
    "DE": ("Frankfurt am Main", "Hesse", "60311", 50.1109, 8.6821),
    "NL": ("Amsterdam", "North Holland", "1012", 52.3676, 4.9041),
    "RU": ("Moscow", "Moscow", "101000", 55.7558, 37.6173),
    "VN": ("Hanoi", "Hanoi", "100000", 21.0278, 105.8342),
    "US": ("Ashburn", "Virginia", "20147", 39.0438, -77.4874),
    "SG": ("Singapore", "Singapore", "018989", 1.2903, 103.8519),
}
_AS = {
    "DE": (3320, "deutsche telekom ag", "Deutsche Telekom AG", "t-ipconnect.de", False),
    "NL": (60781, "leaseweb netherlands b.v.", "LeaseWeb Netherlands B.V.", "leaseweb.com", True),
    "RU": (9009, "m247 europe srl", "M247 Europe SRL", "m247.com", True),
    "VN": (45899, "vnpt corp", "VNPT Corp", "vnpt.vn", False),
    "US": (14061, "digitalocean llc", "DigitalOcean LLC", "digitalocean.com", True),
    "SG": (16509, "amazon.com inc.", "Amazon.com Inc.", "amazonaws.com", True),
}
_SEVERITY = {"SUCCESS": "INFO", "ALLOW": "INFO", "FAILURE": "WARN", "DENY": "WARN"}
_BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


@dataclass(frozen=True)
class OktaEvent:
    """What varies between Okta events; the rest of the envelope is filled in by ``emit_okta``."""

    event_type: str
    display: str
    actor: Employee | None
    ip: str
    country: str = "DE"
    result: str = "SUCCESS"
    reason: str | None = None
    targets: tuple[dict[str, Any], ...] = ()
    session: str | None = None
    legacy: str | None = None
    threat: bool = False
    step: int = 0
    username: str | None = None
    user_agent: str = _BROWSER


def user_target(emp: Employee) -> dict[str, Any]:
    """An Okta ``target`` entry for an employee account."""
    return {"id": emp.okta_id, "type": "User", "alternateId": emp.login, "displayName": emp.display_name}


def named_target(kind: str, target_id: str, name: str) -> dict[str, Any]:
    """An Okta ``target`` entry for a group, app, role or factor."""
    return {"id": target_id, "type": kind, "alternateId": name, "displayName": name}


def _client(ev: OktaEvent, rng_id: str) -> dict[str, Any]:
    city, state, postal, lat, lon = _CITIES.get(ev.country, _CITIES["DE"])
    return {
        "userAgent": {"rawUserAgent": ev.user_agent, "os": "Windows 10", "browser": "CHROME"},
        "zone": "null",
        "device": "Computer",
        "id": rng_id,
        "ipAddress": ev.ip,
        "geographicalContext": {
            "city": city,
            "state": state,
            "country": COUNTRY_NAMES.get(ev.country, ev.country),
            "postalCode": postal,
            "geolocation": {"lat": lat, "lon": lon},
        },
    }


def _actor(ev: OktaEvent) -> dict[str, Any]:
    if ev.actor is None:
        name = ev.username or "unknown"
        return {"id": "unknown", "type": "User", "alternateId": name, "displayName": "unknown"}
    return {
        "id": ev.actor.okta_id,
        "type": "User",
        "alternateId": ev.actor.login,
        "displayName": ev.actor.display_name,
    }


def emit_okta(ctx: Context, at: datetime, ev: OktaEvent, trail: Trail | None = None) -> str:
    """Write one System Log event; returns its ``uuid``."""
    at, rng = ctx.clamp(at), ctx.rng
    request_id = base62(rng, 27)
    asn, isp, org, domain, proxy = _AS.get(ev.country, _AS["DE"])
    rec: dict[str, Any] = {
        "uuid": uuid_like(rng),
        "published": ts_millis(at),
        "eventType": ev.event_type,
        "version": "0",
        "severity": _SEVERITY.get(ev.result, "INFO") if not ev.threat else "WARN",
        "displayMessage": ev.display,
        "actor": _actor(ev),
        "client": _client(ev, okta_id(rng, "ospc")),
        "outcome": {"result": ev.result, "reason": ev.reason},
        "target": list(ev.targets),
        "transaction": {"type": "WEB", "id": request_id, "detail": {}},
        "debugContext": {
            "debugData": {
                "requestId": request_id,
                "requestUri": "/api/v1/authn"
                if ev.event_type.startswith("user.session")
                else "/api/v1/users",
                "url": "/api/v1/authn?" if ev.event_type.startswith("user.session") else "/api/v1/users?",
                "threatSuspected": "true" if ev.threat else "false",
            }
        },
        "authenticationContext": {
            "authenticationStep": ev.step,
            "externalSessionId": ev.session or "unknown",
            "authenticationProvider": "OKTA_AUTHENTICATION_PROVIDER",
            "credentialType": "PASSWORD" if ev.event_type == "user.session.start" else None,
        },
        "securityContext": {"asNumber": asn, "asOrg": isp, "isp": org, "domain": domain, "isProxy": proxy},
        "legacyEventType": ev.legacy,
    }
    return ctx.emit(Source.OKTA, at, rec, trail)
