"""What the detection crash and scale-out tests read afterwards: the alerts, and Temporal's record of the sweeps."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from temporalio.client import Client

from soar.detect.alerts import alerts_index
from soar.engines.search import SearchClient

# Every alert people see starts a workflow nobody runs: proof of the hand-over, at no cost.
PROBE = "DetectCrashProbe"


@dataclass
class Alerts:
    """The alerts of one namespace: ids, natural keys, hand-over outcomes."""

    ids: set[str]
    keys: Counter[tuple[str, str, str, str]]
    handover: Counter[str]
    started: set[str]


async def alerts(search: SearchClient, namespace: str) -> Alerts:
    """Read every alert of the namespace."""
    index = alerts_index(namespace)
    await search.es.indices.refresh(index=index)
    found = await search.es.search(index=index, size=10_000, source_includes=["soar.alert"])
    assert found["hits"]["total"]["value"] < 10_000
    out = Alerts(set(), Counter(), Counter(), set())
    for hit in found["hits"]["hits"]:
        alert = hit["_source"]["soar"]["alert"]
        group = (alert.get("group") or {}).get("id") or ""
        source = alert["source"]
        out.ids.add(hit["_id"])
        # A duplicate would be a second document for the same rule and source event (and group).
        out.keys[(alert["rule"]["uuid"], group, source["index"], source["id"])] += 1
        status = alert["handover"]["status"]
        out.handover[status] += 1
        if status == "started":
            out.started.add(hit["_id"])
    return out


def compare(run: Alerts, ref: Alerts) -> dict[str, int]:
    """Missed and extra alerts of a run against the reference, and duplicates in either (all must be 0)."""
    return {
        "alerts": len(run.ids),
        "reference": len(ref.ids),
        "missed": len(ref.ids - run.ids),
        "extra": len(run.ids - ref.ids),
        "missed_keys": len(set(ref.keys) - set(run.keys)),
        "duplicates": sum(n - 1 for n in run.keys.values()) + sum(n - 1 for n in ref.keys.values()),
    }


async def probes(temporal: Client) -> list[str]:
    """The ids of the playbook workflows the hand-over started (one per routed alert)."""
    return [w.id async for w in temporal.list_workflows(f"WorkflowType = '{PROBE}'")]


@dataclass
class SweepFacts:
    """What Temporal recorded about the scheduled sweeps."""

    statuses: Counter[str] = field(default_factory=Counter)
    activities: Counter[int] = field(default_factory=Counter)  # sweep activities completed, by worker pid
    sweeps: Counter[int] = field(default_factory=Counter)  # sweeps whose first workflow task a worker ran
    retried: int = 0  # activities completed on a later attempt: an earlier one was lost with its worker
    task_timeouts: int = 0  # workflow tasks that timed out: their worker died holding them


async def sweep_facts(temporal: Client) -> SweepFacts:
    """Read the history of every scheduled sweep (not `--once` ones)."""
    facts = SweepFacts()
    async for w in temporal.list_workflows("WorkflowType = 'DetectSweep'"):
        if "-once-" in w.id:
            continue
        facts.statuses[w.status.name if w.status else "?"] += 1
        history = await temporal.get_workflow_handle(w.id, run_id=w.run_id).fetch_history()
        first = True
        for event in history.events:
            if event.HasField("workflow_task_started_event_attributes") and first:
                facts.sweeps[_pid(event.workflow_task_started_event_attributes.identity)] += 1
                first = False
            elif event.HasField("workflow_task_timed_out_event_attributes"):
                facts.task_timeouts += 1
            elif event.HasField("activity_task_started_event_attributes"):
                started = event.activity_task_started_event_attributes
                facts.activities[_pid(started.identity)] += 1
                facts.retried += started.attempt > 1
    return facts


def _pid(identity: str) -> int:
    return int(identity.split("@", 1)[0]) if identity.split("@", 1)[0].isdigit() else -1


@dataclass
class Verdict:
    """The outcome of a streamed run, set against the reference run over the same events."""

    figures: dict[str, int]
    facts: SweepFacts
    run: Alerts
    probes: list[str]
    rules: int  # sweep members (rules and correlations) with a checkpoint past the last event
    reference_rules: int  # sweep members of the reference run
    gaps_filled: int  # catch-up gaps the sweeps recorded in the checkpoints

    def line(self) -> str:
        """The figures, for the test's output."""
        f = self.facts
        return (
            f"{self.figures}; sweeps {dict(f.statuses)}, sweep activities by worker {dict(f.activities)}, "
            f"retried {f.retried}, workflow task timeouts {f.task_timeouts}, gaps filled {self.gaps_filled}, "
            f"hand-over {dict(self.run.handover)}, playbooks started {len(self.probes)}"
        )
