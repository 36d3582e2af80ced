"""The detection bench's instruments: each search request's time and the engine's ``took``, and a process's RSS.

Overhead is measured against the engine's own account of its work. Every request the client sends is
recorded with the client-side interval ``[sent, received]`` and the time the engine says it worked on it
(``took``: of a search or a bulk; of an ``_msearch``, the sum of its searches' ``took``, at most the
interval, since osmem's top-level ``took`` does not cover them). The engine's work on a request is placed
at the end of its interval, ``[received - took, received]``, and the engine's *busy time* over a run is the
length of the union of those intervals: when soar's requests overlap, time the engine worked on two of them
at once is counted once, and soar's overhead is the wall time during which the engine was not working on
any of its requests. Requests that report no ``took`` (opening and closing a point in time, a refresh) are
counted as engine time over their whole interval: no part of them is put down to soar.

Where the engine's ``took`` says little (osmem's bulk ``took`` is about 1 ms for hundreds of milliseconds of
work), :class:`EngineOnCpu` measures the engine's working time from the engine process itself.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from soar.engines.search import SearchClient


@dataclass(frozen=True)
class Request:
    """One request: what, when it was sent and received (``perf_counter``), the engine's own time."""

    endpoint: str
    sent: float
    received: float
    took: float | None  # seconds; None: the engine reports none for this request

    @property
    def engine(self) -> tuple[float, float]:
        """The interval the engine is taken to have worked on it."""
        if self.took is None:
            return self.sent, self.received
        return max(self.sent, self.received - self.took), self.received


def busy_time(requests: list[Request]) -> float:
    """Length of the union of the requests' engine intervals (overlapping work counted once)."""
    total = 0.0
    end = float("-inf")
    for start, stop in sorted(r.engine for r in requests):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


def _took(endpoint: str, body: Any, elapsed: float) -> float | None:
    if not isinstance(body, dict):
        return None
    if endpoint == "_msearch":
        tooks = [float(r.get("took", 0)) for r in body.get("responses", []) if isinstance(r, dict)]
        return min(elapsed, sum(tooks) / 1000)
    took = body.get("took")
    return None if took is None else float(took) / 1000


def _endpoint(target: str) -> str:
    parts = [p for p in target.split("?")[0].split("/") if p]
    return next((p for p in reversed(parts) if p.startswith("_")), "_doc" if parts else "/")


@dataclass
class Probe:
    """Records every request of one client while ``recording`` is on."""

    requests: list[Request] = field(default_factory=list)
    recording: bool = False

    def install(self, search: SearchClient) -> None:
        """Wrap the client's transport (this bench's instrumentation only)."""
        transport = search.es.transport
        send = transport.perform_request

        async def recorded(method: str, target: str, *args: Any, **kwargs: Any) -> Any:
            sent = time.perf_counter()
            response = await send(method, target, *args, **kwargs)
            received = time.perf_counter()
            if self.recording:
                endpoint = _endpoint(target)
                took = _took(endpoint, response.body, received - sent)
                self.requests.append(Request(endpoint, sent, received, took))
            return response

        transport.perform_request = recorded  # type: ignore[method-assign]  # instrumentation of this bench only

    def start(self) -> None:
        """Forget what was recorded and record from now on."""
        self.requests = []
        self.recording = True

    def stop(self) -> list[Request]:
        """Stop recording; the requests recorded since :meth:`start`."""
        self.recording = False
        return self.requests


def on_cpu_ns(pid: int) -> int:
    """A process's time on a CPU so far, all its threads, in nanoseconds (Linux ``schedstat``; 0 when gone)."""
    total = 0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return 0
    for task in tasks:
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended between the listing and the read
    return total


class _Sampler:
    """Calls :meth:`_tick` every ``every`` seconds on a thread of its own while inside ``with``."""

    def __init__(self, pid: int, every: float) -> None:
        self.pid = pid
        self.every = every
        self.own_cpu = 0.0  # the sampling thread's CPU time, to take out of this process's
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tick(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._done.wait(self.every):
            self._tick()
        self.own_cpu = time.thread_time()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


class EngineOnCpu(_Sampler):
    """The wall time during which a process worked, seen from the process.

    An interval of ``every`` seconds counts as working when the process spent at least ``share`` of it on
    a CPU (its runtime's idle housekeeping stays far below). The engine's own account of its work (``took``)
    is not needed: osmem's ``took`` of a bulk is about 1 ms for hundreds of milliseconds of work.
    """

    def __init__(self, pid: int, every: float = 0.01, share: float = 0.1) -> None:
        super().__init__(pid, every)
        self.share = share
        self.busy = 0.0
        self._at, self._worked = 0.0, 0

    def _tick(self) -> None:
        now, total = time.perf_counter(), on_cpu_ns(self.pid)
        if total - self._worked >= self.share * (now - self._at) * 1e9:
            self.busy += now - self._at
        self._at, self._worked = now, total

    def __enter__(self) -> Self:
        self._at, self._worked = time.perf_counter(), on_cpu_ns(self.pid)
        return super().__enter__()


def rss(pid: int) -> int:
    """A process's resident set size in bytes (Linux ``/proc``; 0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


class PeakRss(_Sampler):
    """Samples a process's RSS every few milliseconds; the peak since entry."""

    def __init__(self, pid: int, every: float = 0.005) -> None:
        super().__init__(pid, every)
        self.before = 0
        self.peak = 0

    def _tick(self) -> None:
        self.peak = max(self.peak, rss(self.pid))

    def __enter__(self) -> Self:
        self.before = self.peak = rss(self.pid)
        return super().__enter__()

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self.peak = max(self.peak, rss(self.pid))

    @property
    def growth(self) -> int:
        """Peak RSS while inside minus RSS on entry, in bytes."""
        return self.peak - self.before
