"""Run the benchmarks and rewrite BENCHMARKS.md with the command, the machine and the figures.

``python -m bench`` runs every section; ``python -m bench rules`` (or ``telemetry``) runs only those
named and keeps the other sections as the last BENCHMARKS.md has them. Each section names its run.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench import detection, machine, response, rules, telemetry

SECTIONS = {
    "telemetry": telemetry.run,
    "rules": rules.run,
    "detection": detection.run,
    "response": response.run,
}
# How each section's Markdown starts.
HEADINGS = {
    "telemetry": "## Telemetry",
    "rules": "## Rules",
    "detection": "## Detection",
    "response": "## Response",
}
REPORT = Path("BENCHMARKS.md")


def _earlier(names: list[str]) -> dict[str, str]:
    """The sections named, as the last BENCHMARKS.md has them (absent ones left out)."""
    try:
        text = REPORT.read_text("utf-8")
    except OSError:
        return {}
    found: dict[str, str] = {}
    old_run = re.search(r"^Machine: .* Run: (.+? UTC)\.$", text, re.MULTILINE)  # before sections named runs
    for part in text.split("\n## ")[1:]:
        section = "## " + part.rstrip("\n") + "\n"
        for name in names:
            if section.startswith(HEADINGS[name]):
                stamped = "\n_Run: " in section.split("\n|", 1)[0]
                found[name] = section if stamped or not old_run else _stamped(section, old_run[1])
    return found


def _stamped(section: str, when: str) -> str:
    """The section with the run it comes from under its heading."""
    heading, _, rest = section.partition("\n")
    return f"{heading}\n\n_Run: {when}._\n{rest}"


def main(argv: list[str]) -> None:
    """``python -m bench [SECTION...]``; all sections by default."""
    unknown = [name for name in argv if name not in SECTIONS]
    if unknown:
        raise SystemExit(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    chosen = argv or list(SECTIONS)
    when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    fresh = {}
    for name in chosen:
        print(f"running {name} ...", file=sys.stderr)
        fresh[name] = _stamped(SECTIONS[name](), when)
    # Read only now: another run that rewrote the report meanwhile keeps its sections.
    sections = _earlier([name for name in SECTIONS if name not in chosen]) | fresh
    parts = [
        "# Benchmarks",
        "",
        "Produced by `make bench` (`python -m bench`; `python -m bench rules` (or `telemetry`, `detection`, `response`) reruns one section).",
        f"Machine: {machine.describe()}.",
        "Each section names its run; timings are only compared within one section of one run (ratios):",
        "absolute figures vary with the machine's load.",
        "",
    ]
    parts += [sections[name] for name in SECTIONS if name in sections]
    text = "\n".join(parts)
    REPORT.write_text(text, "utf-8")
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
