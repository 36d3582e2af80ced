"""Incidents: grouping alerts, telemetry figures, the DORA assessment and reports of the incident workflow."""
