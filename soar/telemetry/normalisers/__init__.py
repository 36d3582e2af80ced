"""One normaliser module per source; each exposes ``normalise(raw: str) -> dict`` (an ECS document).

A source whose raw records can carry secrets also has a redactor, applied to records that are dead-lettered.
"""

from __future__ import annotations

from collections.abc import Callable

from soar.telemetry.normalise import NormaliserFn
from soar.telemetry.normalisers.app import normalise as _app
from soar.telemetry.normalisers.envoy import normalise as _envoy
from soar.telemetry.normalisers.keycloak import normalise as _keycloak
from soar.telemetry.normalisers.kubernetes import normalise as _kubernetes
from soar.telemetry.normalisers.kubernetes import redact_raw as _kubernetes_redact
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

# Raw records of these sources may carry secrets (Kubernetes Secret data at RequestResponse audit level).
RAW_REDACTORS: dict[Source, Callable[[str], str]] = {Source.KUBERNETES: _kubernetes_redact}
