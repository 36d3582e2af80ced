"""Replay of stored playbook histories: a change that makes a running workflow non-deterministic fails here.

Histories named ``*-before-local-calls`` were recorded before the playbooks batched their audit records and
made their short calls as local activities; they replay through ``workflow.patched``. Record new ones after a
deliberate, versioned change with
``REGENERATE_HISTORIES=1 pytest tests/workflows/test_containment.py tests/workflows/test_triage.py``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from playbooks.containment import ContainmentWorkflow
from playbooks.incident import IncidentWorkflow
from playbooks.triage import TriageWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_every_playbook_has_stored_histories() -> None:
    names = {p.name.split("-")[0] for p in HISTORIES}
    assert {"containment", "incident", "triage"} <= names


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_stored_history_replays(path: Path) -> None:
    text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    history = WorkflowHistory.from_json(path.stem, text)
    replayer = Replayer(
        workflows=[TriageWorkflow, ContainmentWorkflow, IncidentWorkflow],
        data_converter=pydantic_data_converter,
    )
    await replayer.replay_workflow(history)
