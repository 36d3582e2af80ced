"""What machine a benchmark ran on, for the report."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path


def describe() -> str:
    """One line: CPU model, cores, memory, OS and Python."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores{mem}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; a 1,000,000-step empty Python loop takes {_loop_ms():.0f} ms "
        "here (about 20-25 ms on a current desktop core), to compare absolute figures with another machine"
    )


def _loop_ms() -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(1_000_000):
            pass
        best = min(best, time.perf_counter() - started)
    return best * 1000
