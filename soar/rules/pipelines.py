"""pySigma processing pipelines: a rule's logsource picks a soar source; its field names become ECS.

Which logsource runs on which source (first match wins, unspecified attributes match anything):

=====================================================  ==============  ====================
logsource                                              source          index pattern
=====================================================  ==============  ====================
``product: kubernetes`` (``service: audit``)            kubernetes      ``logs-kubernetes.audit-*``
``product: okta`` (``service: okta``)                   okta            ``logs-okta.system-*``
``product: envoy`` (any service, ``access`` for ours)   envoy           ``logs-envoy.access-*``
``category: webserver`` / ``category: proxy``           envoy           ``logs-envoy.access-*``
``product: keycloak`` (``service: event``)              keycloak        ``logs-keycloak.event-*``
``product: opa`` (``service: decision``)                opa             ``logs-opa.decision-*``
``product: payments`` (``service: transaction``)        app             ``logs-payments.transaction-*``
=====================================================  ==============  ====================

SigmaHQ rules (Kubernetes, Okta, webserver, proxy) use source-native names (``verb``, ``eventType``,
``cs-uri-query``); :mod:`soar.rules.fieldmaps` maps them to ECS so they run unchanged. soar's own
rules (envoy, keycloak, opa, payments) are written with the ECS field names directly. The chosen
source and index pattern are put in the pipeline state (``soar_source``, ``soar_index``) where the
backend reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, partial

from sigma.processing.conditions import RuleProcessingCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldFunctionTransformation, SetStateTransformation
from sigma.rule import SigmaLogSource, SigmaRule

from soar.rules.fieldmaps import map_field
from soar.telemetry.sources import SOURCES, Source

STATE_SOURCE = "soar_source"
STATE_INDEX = "soar_index"
PIPELINE_VERSION = "1"  # bump when a mapping changes: it is part of the compile cache key


@dataclass(frozen=True)
class LogsourceRoute:
    """A logsource pattern (``None`` matches anything) and the soar source it runs on."""

    source: Source
    product: str | None = None
    service: str | None = None
    category: str | None = None

    def matches(self, logsource: SigmaLogSource) -> bool:
        """True when every attribute this route names equals the rule's."""
        return all(
            want is None or want == got
            for want, got in (
                (self.product, logsource.product),
                (self.service, logsource.service),
                (self.category, logsource.category),
            )
        )


ROUTES: tuple[LogsourceRoute, ...] = (
    LogsourceRoute(Source.KUBERNETES, product="kubernetes"),
    LogsourceRoute(Source.OKTA, product="okta"),
    LogsourceRoute(Source.ENVOY, product="envoy"),
    LogsourceRoute(Source.KEYCLOAK, product="keycloak"),
    LogsourceRoute(Source.OPA, product="opa"),
    LogsourceRoute(Source.APP, product="payments"),
    LogsourceRoute(Source.ENVOY, category="webserver"),
    LogsourceRoute(Source.ENVOY, category="proxy"),
)


def resolve_source(logsource: SigmaLogSource) -> Source | None:
    """The soar source a logsource runs on, or None when soar has no such telemetry."""
    return _route(logsource.product, logsource.service, logsource.category)


@cache  # every processing item asks, for every rule: keep it a dict lookup
def _route(product: str | None, service: str | None, category: str | None) -> Source | None:
    logsource = SigmaLogSource(category, product, service)
    for route in ROUTES:
        if route.matches(logsource):
            return route.source
    return None


def describe_logsource(logsource: SigmaLogSource) -> str:
    """``product=x service=y category=z`` with absent attributes left out, for error messages."""
    parts = (
        f"{name}={value}"
        for name, value in (
            ("product", logsource.product),
            ("service", logsource.service),
            ("category", logsource.category),
        )
        if value
    )
    return " ".join(parts) or "(empty)"


@dataclass
class SourceCondition(RuleProcessingCondition):
    """Matches rules whose logsource resolves to one soar source."""

    source: Source

    def match(self, rule: object) -> bool:
        """True when the rule's logsource routes to this condition's source."""
        return isinstance(rule, SigmaRule) and resolve_source(rule.logsource) is self.source


def _items(source: Source) -> list[ProcessingItem]:
    # A condition belongs to one processing item (pySigma sets its pipeline once): one each.
    return [
        ProcessingItem(
            identifier=f"soar_{source.value}_source",
            transformation=SetStateTransformation(STATE_SOURCE, source.value),
            rule_conditions=[SourceCondition(source)],
        ),
        ProcessingItem(
            identifier=f"soar_{source.value}_index",
            transformation=SetStateTransformation(STATE_INDEX, SOURCES[source].index_pattern),
            rule_conditions=[SourceCondition(source)],
        ),
        ProcessingItem(
            identifier=f"soar_{source.value}_fields",
            transformation=FieldFunctionTransformation(
                mapping={}, transform_func=partial(_map_or_keep, source)
            ),
            rule_conditions=[SourceCondition(source)],
        ),
    ]


def _map_or_keep(source: Source, field: str | None) -> str:
    # pySigma never passes None here (keywords are not mapped: apply_keyword is off).
    return map_field(source, field or "")


def soar_pipeline() -> ProcessingPipeline:
    """A new pipeline for every source: routing, index pattern and field names.

    A new one each call: pySigma binds each processing item and condition to one pipeline.
    """
    items = [item for source in Source for item in _items(source)]
    return ProcessingPipeline(name="soar ECS", priority=20, items=items)
