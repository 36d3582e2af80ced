"""The telemetry sources soar understands, and where each one's documents live."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Source(StrEnum):
    """A raw telemetry source; the value is what ``--source`` takes on the command line."""

    ENVOY = "envoy"
    KEYCLOAK = "keycloak"
    OKTA = "okta"
    OPA = "opa"
    KUBERNETES = "kubernetes"
    APP = "app"


@dataclass(frozen=True)
class SourceSpec:
    """ECS ``event.module`` / ``event.dataset`` of a source and its data-stream naming."""

    source: Source
    module: str
    dataset: str

    def index(self, namespace: str = "default") -> str:
        """The index (or data stream) documents of this source are written to."""
        return f"logs-{self.dataset}-{namespace}"

    @property
    def index_pattern(self) -> str:
        """The pattern that matches this source's indices in every namespace."""
        return f"logs-{self.dataset}-*"


SOURCES: dict[Source, SourceSpec] = {
    Source.ENVOY: SourceSpec(Source.ENVOY, "envoy", "envoy.access"),
    Source.KEYCLOAK: SourceSpec(Source.KEYCLOAK, "keycloak", "keycloak.event"),
    Source.OKTA: SourceSpec(Source.OKTA, "okta", "okta.system"),
    Source.OPA: SourceSpec(Source.OPA, "opa", "opa.decision"),
    Source.KUBERNETES: SourceSpec(Source.KUBERNETES, "kubernetes", "kubernetes.audit"),
    Source.APP: SourceSpec(Source.APP, "payments", "payments.transaction"),
}


def dead_letter_index(namespace: str = "default") -> str:
    """The index that keeps every record that could not be normalised or indexed."""
    return f"soar-deadletter-{namespace}"
