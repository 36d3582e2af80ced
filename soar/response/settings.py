"""Settings of the response side: connectors, the service catalogue, approvals, grouping, DORA profile."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from soar.detect.settings import parse_duration
from soar.dora.assessment import EntityProfile
from soar.dora.enums import EntityType

_FORBID = ConfigDict(extra="forbid")


class TlsOptions(BaseModel):
    """TLS of one connector: CA bundle, client certificate and key (mTLS), verification."""

    model_config = _FORBID
    ca_certs: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    verify: bool = True


class KeycloakSettings(TlsOptions):
    """Keycloak admin REST API, reached with a confidential client's credentials (client_credentials grant)."""

    url: str
    realm: str = "bank"
    token_realm: str | None = None  # where the service-account client lives (default: ``realm``)
    client_id: str = "soar"
    client_secret: SecretStr


class OktaSettings(TlsOptions):
    """Okta management API with an API token (``Authorization: SSWS <token>``)."""

    url: str
    api_token: SecretStr


class KubernetesSettings(TlsOptions):
    """The Kubernetes API server (bearer token or client certificate); Istio resources go through it too."""

    url: str
    token: SecretStr | None = None
    gateway_namespace: str = "istio-system"
    gateway_selector: dict[str, str] = Field(default_factory=lambda: {"istio": "ingressgateway"})
    mesh_root_namespace: str = "istio-system"


class WebhookSettings(TlsOptions):
    """Where reminders, escalations and approval requests are posted (signed with HMAC-SHA256)."""

    url: str
    secret: SecretStr | None = None


class ConnectorSettings(BaseModel):
    """External systems; one not configured (or ``dry_run``) writes its requests to files instead."""

    model_config = _FORBID
    dry_run: bool = False
    keycloak: KeycloakSettings | None = None
    okta: OktaSettings | None = None
    kubernetes: KubernetesSettings | None = None
    webhook: WebhookSettings | None = None
    timeout: float = 10.0


class ApprovalPolicy(BaseModel):
    """Four-eyes approval of high-impact actions.

    A person never approves their own request. An action a playbook proposed needs ``system_approvals``
    distinct people; one a person requested needs ``person_approvals`` others.
    """

    model_config = _FORBID
    system_approvals: int = Field(default=2, ge=1)
    person_approvals: int = Field(default=1, ge=1)
    escalate_after: timedelta = timedelta(hours=1)
    expire_after: timedelta = timedelta(hours=4)
    contain_for: timedelta = timedelta(hours=24)  # applied actions revert after this unless kept

    _durations = field_validator("escalate_after", "expire_after", "contain_for", mode="before")(
        parse_duration
    )


class Service(BaseModel):
    """One business service in the catalogue: how critical it is and whether it supports a critical function."""

    model_config = _FORBID
    name: str
    criticality: Literal["low", "medium", "high", "critical"] = "medium"
    critical_function: bool = False
    owner: str | None = None
    workloads: list[str] = Field(default_factory=list)  # SPIFFE ids / workload names that serve it


class DoraSettings(BaseModel):
    """The reporting entity and the reference figures the DORA assessment of an incident needs."""

    model_config = _FORBID
    entity_type: EntityType = EntityType.CREDIT_INSTITUTION
    member_state: str = "DE"
    entity: EntityProfile | None = None
    clients_total: int | None = Field(default=None, ge=1)
    transactions_daily_avg: Decimal | None = Field(default=None, gt=0)
    transaction_value_daily_avg_eur: Decimal | None = Field(default=None, gt=0)
    remind_before: timedelta = timedelta(hours=1)

    _durations = field_validator("remind_before", mode="before")(parse_duration)


class ResponseSettings(BaseModel):
    """Settings of the playbooks and their activities.

    Attributes:
        routing_file: Which alerts start which playbook and which actions triage proposes.
        catalogue_file: The service catalogue (YAML list of :class:`Service`).
        grouping_window: Alerts sharing an entity within this time join one incident.
        reports_dir: Where rendered DORA reports are written (default: ``<data_dir>/reports``).
        incident_idle_close: A non-major incident with no alert, action or update for this long closes.
        incident_debounce: An incident is measured and classified this long after the first alert of a burst,
            once for the whole burst (a person's update is assessed at once).
    """

    model_config = _FORBID
    routing_file: Path | None = None
    catalogue_file: Path | None = None
    grouping_window: timedelta = timedelta(hours=4)
    reports_dir: Path | None = None
    incident_idle_close: timedelta = timedelta(days=7)
    incident_debounce: timedelta = Field(default=timedelta(minutes=1), gt=timedelta(0))
    connectors: ConnectorSettings = Field(default_factory=ConnectorSettings)
    approvals: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    dora: DoraSettings = Field(default_factory=DoraSettings)

    _durations = field_validator(
        "grouping_window", "incident_idle_close", "incident_debounce", mode="before"
    )(parse_duration)
