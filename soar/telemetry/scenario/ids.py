"""Identifiers and timestamps of the scenario generator, all derived from one seeded RNG."""

from __future__ import annotations

import random
from datetime import UTC, datetime

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def uuid_like(rng: random.Random) -> str:
    """A version-4-shaped UUID string drawn from ``rng`` (never ``uuid.uuid4``)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:]}"


def hex_id(rng: random.Random, length: int) -> str:
    """``length`` lowercase hex digits."""
    return f"{rng.getrandbits(4 * length):0{length}x}"


def base62(rng: random.Random, length: int) -> str:
    """``length`` characters of [0-9A-Za-z], the alphabet of Okta ids."""
    return "".join(rng.choice(_BASE62) for _ in range(length))


def okta_id(rng: random.Random, prefix: str = "00u") -> str:
    """An Okta object id such as ``00u1a2b3c4d5e6f7g8h9``."""
    return prefix + base62(rng, 17)


def port(rng: random.Random) -> int:
    """An ephemeral TCP port."""
    return 32768 + rng.getrandbits(14)


def pod_ip(rng: random.Random) -> str:
    """An address in the pod network 10.16.0.0/12."""
    bits = rng.getrandbits(20)
    return f"10.{16 + (bits >> 16)}.{(bits >> 8) & 255}.{max(2, bits & 255)}"


def lower_alnum(rng: random.Random, length: int) -> str:
    """``length`` characters of [a-z0-9], the alphabet of Kubernetes pod-name suffixes."""
    return "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(length))


def ts_millis(t: datetime) -> str:
    """RFC 3339 UTC with milliseconds: ``2026-11-23T10:15:30.123Z``."""
    return t.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def ts_micros(t: datetime) -> str:
    """RFC 3339 UTC with microseconds, as the Kubernetes API server writes it."""
    return t.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def ts_nanos(t: datetime) -> str:
    """RFC 3339 UTC with nanoseconds, as OPA writes it."""
    return t.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "000Z"


def epoch_millis(t: datetime) -> int:
    """Milliseconds since the epoch, as Keycloak's ``time``."""
    whole = int(t.replace(microsecond=0).timestamp())
    return whole * 1000 + t.microsecond // 1000
