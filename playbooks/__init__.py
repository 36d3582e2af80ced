"""soar's playbooks: Temporal workflows only (deterministic orchestration, no I/O); activities live in soar."""
