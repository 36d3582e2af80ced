"""One normaliser module per source; each exposes ``normalise(raw: str) -> dict`` (an ECS document)."""

from __future__ import annotations

from soar.telemetry.normalise import NormaliserFn
from soar.telemetry.normalisers.app import normalise as _app
from soar.telemetry.normalisers.envoy import normalise as _envoy
from soar.telemetry.normalisers.keycloak import normalise as _keycloak
from soar.telemetry.normalisers.kubernetes import normalise as _kubernetes
from soar.telemetry.normalisers.okta import normalise as _okta
from soar.telemetry.normalisers.opa import normalise as _opa
from soar.telemetry.sources import Source

NORMALISERS: dict[Source, NormaliserFn] = {
    Source.ENVOY: _envoy,
    Source.KEYCLOAK: _keycloak,
    Source.OKTA: _okta,
    Source.OPA: _opa,
    Source.KUBERNETES: _kubernetes,
    Source.APP: _app,
}
