"""One normaliser module per source; each exposes ``normalise(raw: str) -> dict`` (an ECS document)."""

from __future__ import annotations

from soar.telemetry.normalise import NormaliserFn
from soar.telemetry.normalisers import app, envoy, keycloak, kubernetes, okta, opa
from soar.telemetry.sources import Source

NORMALISERS: dict[Source, NormaliserFn] = {
    Source.ENVOY: envoy.normalise,
    Source.KEYCLOAK: keycloak.normalise,
    Source.OKTA: okta.normalise,
    Source.OPA: opa.normalise,
    Source.KUBERNETES: kubernetes.normalise,
    Source.APP: app.normalise,
}
