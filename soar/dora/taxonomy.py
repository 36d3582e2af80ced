"""Root-cause taxonomy of the final report (fields 4.1–4.3), grouped as in the IR schema."""

from __future__ import annotations

from soar.dora.enums import RootCauseHL

#: Schema prefix of the field 4.2 values of each field 4.1 group.
_PREFIX: dict[RootCauseHL, str] = {
    RootCauseHL.MALICIOUS_ACTIONS: "malicious_actions_",
    RootCauseHL.PROCESS_FAILURE: "process_failure_",
    RootCauseHL.SYSTEM_FAILURE: "system_failure_",
    RootCauseHL.HUMAN_ERROR: "human_error_",
    RootCauseHL.EXTERNAL_EVENT: "external_event_",
}

_DETAILED: dict[RootCauseHL, tuple[str, ...]] = {
    RootCauseHL.MALICIOUS_ACTIONS: (
        "deliberate_internal_actions",
        "deliberate_physical_damage_manipulation_theft",
        "fraudulent_actions",
    ),
    RootCauseHL.PROCESS_FAILURE: (
        "insufficient_monitoring_or_failure_of_monitoring_and_control",
        "insufficient_unclear_roles_and_responsibilities",
        "ICT_risk_management_process_failure",
        "insufficient_or_failure_of_ict_operations_and_ict_security_operations",
        "insufficient_or_failure_of_ict_project_management",
        "inadequacy_of_internal_policies_procedures_and_documentation",
        "inadequate_ict_systems_acquisition_development_and_maintenance",
        "other",
    ),
    RootCauseHL.SYSTEM_FAILURE: (
        "hardware_capacity_and_performance",
        "hardware_maintenance",
        "hardware_obsolescence_ageing",
        "software_compatibility_configuration",
        "software_performance",
        "network_configuration",
        "physical_damage",
        "other",
    ),
    RootCauseHL.HUMAN_ERROR: (
        "omission",
        "mistake",
        "skills_knowledge",
        "inadequate_human_resources",
        "miscommunication",
        "other",
    ),
    RootCauseHL.EXTERNAL_EVENT: ("natural_disasters_force_majeure", "third-party_failures", "other"),
}

#: Field 4.2: every detailed root cause, mapped to its field 4.1 group.
DETAILED_ROOT_CAUSES: dict[str, RootCauseHL] = {
    _PREFIX[group] + value: group for group, values in _DETAILED.items() for value in values
}

#: Field 4.3: the additional root causes available under each field 4.2 value that has sub-items.
ADDITIONAL_ROOT_CAUSES: dict[str, tuple[str, ...]] = {
    "process_failure_insufficient_monitoring_or_failure_of_monitoring_and_control": (
        "monitoring_of_policy_adherence",
        "monitoring_of_third-party_service_providers",
        "monitoring_and_verification_of_remediation_of_vulnerabilities",
        "identity_and_access_management",
        "encryption_and_cryptography",
        "logging",
    ),
    "process_failure_ICT_risk_management_process_failure": (
        "failure_in_specifying_accurate_risk_tolerance_levels",
        "insufficient_vulnerability_and_threat_assessments",
        "inadequate_risk_treatment_measures",
        "poor_management_of_residual_ict_risks",
    ),
    "process_failure_insufficient_or_failure_of_ict_operations_and_ict_security_operations": (
        "vulnerability_and_patch_management",
        "change_management",
        "capacity_and_performance_management",
        "ict_asset_management_and_information_classification",
        "backup_and_restore",
        "error_handling",
    ),
    "process_failure_inadequate_ict_systems_acquisition_development_and_maintenance": (
        "inadequate_ict_systems_acquisition_development_and_maintenance",
        "insufficient_or_failure_of_software_testing",
    ),
}

#: Field 4.3: the flat enum of additional root causes.
ADDITIONAL_VALUES: frozenset[str] = frozenset(v for values in ADDITIONAL_ROOT_CAUSES.values() for v in values)
