"""Closed vocabularies of the DORA templates (ITS 2025/302, IR JSON schema 1.2.1), values carried over exactly."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """The report stages (field 1.1, ``incidentSubmission``)."""

    INITIAL = "initial_notification"
    INTERMEDIATE = "intermediate_report"
    FINAL = "final_report"
    RECLASSIFIED = "major_incident_reclassified_as_non-major"

    @property
    def order(self) -> int:
        """Position of the stage: later stages repeat the fields of earlier ones."""
        return {"initial_notification": 1, "intermediate_report": 2, "final_report": 3}.get(self.value, 1)


class EntityType(StrEnum):
    """Type of the affected financial entity (field 1.4; Annex IV field 3), 23 values."""

    CREDIT_INSTITUTION = "credit_institution"
    PAYMENT_INSTITUTION = "payment_institution"
    EXEMPTED_PAYMENT_INSTITUTION = "exempted_payment_institution"
    ACCOUNT_INFORMATION_SERVICE_PROVIDER = "account_information_service_provider"
    ELECTRONIC_MONEY_INSTITUTION = "electronic_money_institution"
    EXEMPTED_ELECTRONIC_MONEY_INSTITUTION = "exempted_electronic_money_institution"
    INVESTMENT_FIRM = "investment_firm"
    CRYPTO_ASSET_SERVICE_PROVIDER = "crypto-asset_service_provider"
    ISSUER_OF_ASSET_REFERENCED_TOKENS = "issuer_of_asset-referenced_tokens"
    CENTRAL_SECURITIES_DEPOSITORY = "central_securities_depository"
    CENTRAL_COUNTERPARTY = "central_counterparty"
    TRADING_VENUE = "trading_venue"
    TRADE_REPOSITORY = "trade_repository"
    MANAGER_OF_ALTERNATIVE_INVESTMENT_FUND = "manager_of_alternative_investment_fund"
    MANAGEMENT_COMPANY = "management_company"
    DATA_REPORTING_SERVICE_PROVIDER = "data_reporting_service_provider"
    INSURANCE_AND_REINSURANCE_UNDERTAKING = "insurance_and_reinsurance_undertaking"
    INSURANCE_INTERMEDIARY = (
        "insurance_intermediary_reinsurance_intermediary_and_ancillary_insurance_intermediary"
    )
    INSTITUTION_FOR_OCCUPATIONAL_RETIREMENT_PROVISION = "institution_for_occupational_retirement_provision"
    CREDIT_RATING_AGENCY = "credit_rating_agency"
    ADMINISTRATOR_OF_CRITICAL_BENCHMARKS = "administrator_of_critical_benchmarks"
    CROWDFUNDING_SERVICE_PROVIDER = "crowdfunding_service_provider"
    SECURITISATION_REPOSITORY = "securitisation_repository"


#: Input spellings accepted besides the template values.
ENTITY_TYPE_ALIASES: dict[str, str] = {
    "e_money_institution": EntityType.ELECTRONIC_MONEY_INSTITUTION.value,
    "exempted_e_money_institution": EntityType.EXEMPTED_ELECTRONIC_MONEY_INSTITUTION.value,
}

#: Entities that lose the weekend/holiday extension for initial and intermediate reports (RTS-R Art. 5(5)).
NO_WEEKEND_EXTENSION: frozenset[EntityType] = frozenset(
    {EntityType.CREDIT_INSTITUTION, EntityType.CENTRAL_COUNTERPARTY, EntityType.TRADING_VENUE}
)


class Criterion(StrEnum):
    """Classification criteria (field 2.5, ``classificationCriterion``)."""

    CLIENTS = "clients_financial_counterparts_and_transactions_affected"
    REPUTATIONAL = "reputational_impact"
    DURATION = "duration_and_service_downtime"
    GEOGRAPHICAL = "geographical_spread"
    DATA_LOSSES = "data_losses"
    CRITICAL_SERVICES = "critical_services_affected"
    ECONOMIC = "economic_impact"


class Reputational(StrEnum):
    """Input names of the reputational-impact items of RTS-C Art. 2(1)(a)–(d)."""

    MEDIA = "media"
    COMPLAINTS = "complaints"
    REGULATORY = "regulatory"
    CLIENT_LOSS = "client_loss"


#: Field 3.13 values for each reputational item, in the order of RTS-C Art. 2(1).
REPUTATIONAL_TEMPLATE: dict[Reputational, str] = {
    Reputational.MEDIA: "the_major_ict-related_incident_has_been_reflected_in_the_media",
    Reputational.COMPLAINTS: (
        "the_major_ict-related_incident_has_resulted_in_repetitive_complaints_from_different_clients_or_"
        "financial_counterparts_on_client-facing_services_or_critical_business_relationships"
    ),
    Reputational.REGULATORY: (
        "the_financial_entity_will_not_be_able_to_or_is_likely_not_to_be_able_to_meet_regulatory_"
        "requirements_as_a_result_of_the_major_ict-related_incident"
    ),
    Reputational.CLIENT_LOSS: (
        "the_financial_entity_will_or_is_likely_to_lose_clients_or_financial_counterparts_with_a_material_"
        "impact_on_its_business_as_a_result_of_the_major_ict-related_incident"
    ),
}


class DataProperty(StrEnum):
    """Data properties of RTS-C Art. 5 (field 3.20)."""

    AVAILABILITY = "availability"
    AUTHENTICITY = "authenticity"
    INTEGRITY = "integrity"
    CONFIDENTIALITY = "confidentiality"


class MemberStateImpact(StrEnum):
    """Types of impact in the Member States (field 3.18)."""

    CLIENTS = "clients"
    FINANCIAL_COUNTERPARTS = "financial_counterparts"
    BRANCH = "branch_of_the_financial_entity"
    GROUP_ENTITIES = (
        "financial_entities_within_the_group_carrying_out_activities_in_the_respective_member_state"
    )
    FMI = "financial_market_infrastructure"
    THIRD_PARTY = "third-party_providers_that_may_be_common_to_other_financial_entities"


class Discovery(StrEnum):
    """Discovery of the incident (field 2.7)."""

    IT_SECURITY = "it_security"
    STAFF = "staff"
    INTERNAL_AUDIT = "internal_audit"
    EXTERNAL_AUDIT = "external_audit"
    CLIENTS = "clients"
    FINANCIAL_COUNTERPARTS = "financial_counterparts"
    THIRD_PARTY_PROVIDER = "third-party_provider"
    ATTACKER = "attacker"
    MONITORING_SYSTEMS = "monitoring_systems"
    AUTHORITY = "authority_agency_law_enforcement_body"
    OTHER = "other"


class NumbersKind(StrEnum):
    """Actual figures or estimates for clients, counterparts, transactions (field 3.12)."""

    ACTUAL_CLIENTS = "actual_figures_for_clients_affected"
    ACTUAL_COUNTERPARTS = "actual_figures_for_financial_counterparts_affected"
    ACTUAL_TRANSACTIONS = "actual_figures_for_transactions_affected"
    ESTIMATES_CLIENTS = "estimates_for_clients_affected"
    ESTIMATES_COUNTERPARTS = "estimates_for_financial_counterparts_affected"
    ESTIMATES_TRANSACTIONS = "estimates_for_transactions_affected"
    NO_IMPACT_CLIENTS = "no_impact_on_clients"
    NO_IMPACT_COUNTERPARTS = "no_impact_on_financial_counterparts"
    NO_IMPACT_TRANSACTIONS = "no_impact_on_transactions"


class FiguresKind(StrEnum):
    """Actual or estimated duration and downtime (field 3.17)."""

    ACTUAL = "actual_figures"
    ESTIMATES = "estimates"
    BOTH = "actual_figures_and_estimates"
    NONE = "no_information_available"


class IncidentClass(StrEnum):
    """Type of the major ICT-related incident (field 3.23)."""

    CYBERSECURITY = "cybersecurity-related"
    PROCESS_FAILURE = "process_failure"
    SYSTEM_FAILURE = "system_failure"
    EXTERNAL_EVENT = "external_event"
    PAYMENT = "payment-related"
    OTHER = "other"


class ThreatTechnique(StrEnum):
    """Threats and techniques used by the threat actor (field 3.25)."""

    SOCIAL_ENGINEERING = "social_engineering_including_phishing"
    DDOS = "ddos"
    IDENTITY_THEFT = "identity_theft"
    RANSOMWARE = "data_encryption_for_impact_including_ransomware"
    RESOURCE_HIJACKING = "resource_hijacking"
    EXFILTRATION = "data_exfiltration_and_manipulation_including_identity_theft"
    DATA_DESTRUCTION = "data_destruction"
    DEFACEMENT = "defacement"
    SUPPLY_CHAIN = "supply-chain_attack"
    OTHER = "other"


class YesNoNA(StrEnum):
    """Yes / no / information not available (fields 3.28, 3.30)."""

    YES = "yes"
    NO = "no"
    NOT_AVAILABLE = "information_not_available"


class Authority(StrEnum):
    """Reporting to other authorities (field 3.31)."""

    POLICE = "police_law_enforcement"
    CSIRT = "csirt"
    DPA = "data_protection_authority"
    NCSA = "national_cybersecurity_agency"
    NONE = "none"
    OTHER = "other"


class Currency(StrEnum):
    """Reporting currency (field 1.15)."""

    EUR = "EUR"
    BGN = "BGN"
    CZK = "CZK"
    DKK = "DKK"
    HUF = "HUF"
    PLN = "PLN"
    RON = "RON"
    ISK = "ISK"
    CHF = "CHF"
    NOK = "NOK"
    SEK = "SEK"


class RootCauseHL(StrEnum):
    """High-level classification of root causes (field 4.1)."""

    MALICIOUS_ACTIONS = "malicious_actions"
    PROCESS_FAILURE = "process_failure"
    SYSTEM_FAILURE = "system_failure_malfunction"
    HUMAN_ERROR = "human_error"
    EXTERNAL_EVENT = "external_event"
