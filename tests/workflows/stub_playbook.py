"""A trivial playbook for hand-over tests: it only returns the alert id it was started with."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from soar.detect.routing import AlertHandOver


@workflow.defn(name="StubPlaybook")
class StubPlaybook:
    """Returns the alert id."""

    @workflow.run
    async def run(self, alert: AlertHandOver) -> str:
        """Return the alert id."""
        return alert.alert_id
