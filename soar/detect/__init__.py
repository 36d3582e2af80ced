"""The detection engine: scheduled sweeps on Temporal, windows and checkpoints, alerts, hand-over to playbooks."""
