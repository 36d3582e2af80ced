"""Run every benchmark and rewrite BENCHMARKS.md with the command, the machine and the figures."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from bench import machine, rules, telemetry

SECTIONS = {"telemetry": telemetry.run, "rules": rules.run}


def main(argv: list[str]) -> None:
    """``python -m bench [SECTION...]``; all sections by default."""
    chosen = argv or list(SECTIONS)
    parts = [
        "# Benchmarks",
        "",
        "Produced by `make bench` (`python -m bench`); every figure below comes from one run of it.",
        f"Machine: {machine.describe()}. Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "Timings are only compared within one run (ratios); absolute figures vary with the machine's load.",
        "",
    ]
    for name in chosen:
        print(f"running {name} ...", file=sys.stderr)
        parts.append(SECTIONS[name]())
    text = "\n".join(parts)
    Path("BENCHMARKS.md").write_text(text + "\n", "utf-8")
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
