"""MITRE ATT&CK names offline: the compact lookup shipped in ``soar/rules/data/attack.json``.

The data file is generated once by ``tools/attack_data.py`` (provenance and the ATT&CK terms of use
are inside it and in ``soar/rules/data/README.md``); nothing is fetched at run time (DESIGN trap 3).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

FRAMEWORK = "MITRE ATT&CK"


@cache
def attack_data() -> dict[str, Any]:
    """The shipped lookup: ``tactics`` by TA id and ``techniques`` by T id."""
    text = resources.files("soar.rules").joinpath("data", "attack.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _tactics_by_shortname() -> dict[str, str]:
    return {t["shortname"]: tid for tid, t in attack_data()["tactics"].items()}


def _tactic(tactic_id: str) -> dict[str, str]:
    tactic = attack_data()["tactics"][tactic_id]
    return {"id": tactic_id, "name": tactic["name"], "reference": tactic["reference"]}


def _technique(technique_id: str) -> dict[str, str]:
    technique = attack_data()["techniques"][technique_id]
    return {"id": technique_id, "name": technique["name"], "reference": technique["reference"]}


def threat(tags: Iterable[str]) -> list[dict[str, Any]]:
    """Elastic Security's ``threat`` array from Sigma ``attack.*`` tags.

    Tactic tags (``attack.credential-access``) and technique tags (``attack.t1110.003``) are
    combined: each technique goes under each of its tactics that the rule names, or under all of
    its tactics when the rule names none of them. Unknown ids and names are left out.

    Args:
        tags: The rule's tags, as written.

    Returns:
        One entry per tactic, each with its techniques and their sub-techniques.
    """
    data = attack_data()
    names = [t.lower().removeprefix("attack.") for t in tags if t.lower().startswith("attack.")]
    tactic_ids = [_tactics_by_shortname()[n] for n in names if n in _tactics_by_shortname()]
    entries: dict[str, dict[str, Any]] = {tid: _entry(tid) for tid in tactic_ids}
    for technique_id in (n.upper() for n in names if n[:1] == "t" and n[1:2].isdigit()):
        parent_id = technique_id.split(".")[0]
        if parent_id not in data["techniques"]:
            continue
        own = [
            _tactics_by_shortname()[s]
            for s in data["techniques"][parent_id]["tactics"]
            if s in _tactics_by_shortname()
        ]
        for tid in [t for t in own if t in entries] or own:
            entry = entries.setdefault(tid, _entry(tid))
            _add_technique(entry, parent_id, technique_id)
    return list(entries.values())


def _entry(tactic_id: str) -> dict[str, Any]:
    return {"framework": FRAMEWORK, "tactic": _tactic(tactic_id), "technique": []}


def _add_technique(entry: dict[str, Any], parent_id: str, technique_id: str) -> None:
    techniques: list[dict[str, Any]] = entry["technique"]
    found = next((t for t in techniques if t["id"] == parent_id), None)
    if found is None:
        found = {**_technique(parent_id), "subtechnique": []}
        techniques.append(found)
    known = technique_id in attack_data()["techniques"]
    if technique_id != parent_id and known and all(s["id"] != technique_id for s in found["subtechnique"]):
        found["subtechnique"].append(_technique(technique_id))
