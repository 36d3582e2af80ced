"""How a playbook calls its short activities: as local activities, or as activities in older histories.

A local activity runs in the workflow task that scheduled it, so it costs the cluster no task round trip
and no history events beyond one marker; that is what lets a thousand alerts be triaged at once. Calls that
act on the outside world and may take long (containment apply and revert) stay activities of their own.
Workflows started before this choice recorded those calls as activities; their playbook passes
``local=False`` (from ``workflow.patched``) so their histories replay.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

Result = TypeVar("Result")


async def call(
    activity: Any,
    arg: Any,
    result_type: type[Result],
    *,
    local: bool,
    attempt: timedelta,
    retry: RetryPolicy,
    give_up: timedelta | None = None,
) -> Result:
    """Run one activity and return its result.

    Args:
        activity: The activity (its name or its method).
        arg: Its one input.
        result_type: What it returns (for the pydantic data converter).
        local: Run it as a local activity (new histories) or as an activity (histories from before).
        attempt: Start-to-close timeout of one attempt.
        retry: The retry policy.
        give_up: Schedule-to-close timeout over all attempts (None: retry as the policy says).
    """
    result: Result
    if local:
        result = await workflow.execute_local_activity(
            activity,
            arg,
            result_type=result_type,
            start_to_close_timeout=attempt,
            schedule_to_close_timeout=give_up,
            retry_policy=retry,
        )
    else:
        result = await workflow.execute_activity(
            activity,
            arg,
            result_type=result_type,
            start_to_close_timeout=attempt,
            schedule_to_close_timeout=give_up,
            retry_policy=retry,
        )
    return result
