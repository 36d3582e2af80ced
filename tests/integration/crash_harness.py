"""What the worker-crash test drives: `soar worker` processes to kill, and fakes that can kill it at a change.

Worker processes are forked from a process that has imported soar once (a "zygote"), so a restart costs
milliseconds instead of seconds of imports on a busy CI machine; each child runs the `soar worker` command
with the environment the zygote was started with, and writes its output to a log file of its own.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from soar.testing import FakeKeycloak, FakeKubernetes, FakeOkta, FakeWebhook

# Imports soar once, then forks one `soar worker` per line "spawn <log file>" and answers with its pid.
ZYGOTE = """
import os, sys
from soar.cli.app import app
def spawn(log):
    pid = os.fork()
    if pid:
        return pid
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 1); os.dup2(fd, 2)
    try:
        app(["worker"], prog_name="soar")
    except SystemExit as exc:
        os._exit(exc.code if isinstance(exc.code, int) else 1)
    os._exit(0)
for line in sys.stdin:
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break
    print(spawn(line.split(" ", 1)[1].strip()), flush=True)
"""


class Workers:
    """`soar worker` processes forked from a zygote: one runs at a time, :meth:`kill` SIGKILLs it."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.logs = logs
        self.zygote = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=logs,
            text=True,
        )
        assert self.zygote.stdin is not None
        assert self.zygote.stdout is not None
        self.commands, self.answers = self.zygote.stdin, self.zygote.stdout
        self.pid = 0
        self.started = 0
        self.log = logs / "worker-00.log"

    def start(self) -> None:
        """Fork the next worker."""
        self.started += 1
        self.log = self.logs / f"worker-{self.started:02d}.log"
        self.commands.write(f"spawn {self.log}\n")
        self.commands.flush()
        self.pid = int(self.answers.readline())

    async def ready(self) -> None:
        """Wait until the worker says it polls (an error before that fails the test)."""
        for _ in range(1200):
            text = self.log.read_text() if self.log.exists() else ""
            if "worker on task queue" in text:
                return
            assert "error" not in text.lower(), text
            await asyncio.sleep(0.05)
        raise AssertionError(f"worker {self.started} did not start: {self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL the running worker: no shutdown, no last heartbeat, activities in flight lost."""
        os.kill(self.pid, signal.SIGKILL)

    def close(self) -> None:
        """Stop the last worker gracefully (SIGTERM, as `soar worker` expects), then the zygote."""
        if self.pid:
            os.kill(self.pid, signal.SIGTERM)
            for _ in range(300):
                if "worker stopped" in self.log.read_text():
                    break
                time.sleep(0.1)
        self.commands.close()
        self.zygote.wait(timeout=30)
        self.answers.close()


class Tripwire:
    """When armed with a worker's pid, SIGKILLs it the moment a fake accepts a change (before it answers)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        self.fired = threading.Event()

    def arm(self, pid: int) -> None:
        """Kill ``pid`` at the next change."""
        with self._lock:
            self.fired.clear()
            self._pid = pid

    def disarm(self) -> bool:
        """Stop waiting for a change; True if it fired meanwhile."""
        with self._lock:
            self._pid = 0
            return self.fired.is_set()

    def trip(self) -> None:
        """Called by a fake right after it made a change."""
        with self._lock:
            if self._pid:
                os.kill(self._pid, signal.SIGKILL)
                self._pid = 0
                self.fired.set()


class _Tripping:
    """A fake whose every counted change goes past the tripwire."""

    tripwire: Tripwire

    def count(self, operation: str, target: str) -> None:
        super().count(operation, target)  # type: ignore[misc]  # the fake's own counter
        self.tripwire.trip()


class TrippingKeycloak(_Tripping, FakeKeycloak):
    """Keycloak with a tripwire."""


class TrippingOkta(_Tripping, FakeOkta):
    """Okta with a tripwire."""


class TrippingKubernetes(_Tripping, FakeKubernetes):
    """Kubernetes with a tripwire."""


@dataclass
class Fakes:
    """The fakes the worker acts on (in this process, so answers can be lost and changes can kill)."""

    tripwire: Tripwire = field(default_factory=Tripwire)
    keycloak: TrippingKeycloak = field(default_factory=TrippingKeycloak)
    okta: TrippingOkta = field(default_factory=TrippingOkta)
    kubernetes: TrippingKubernetes = field(default_factory=TrippingKubernetes)
    webhook: FakeWebhook = field(default_factory=FakeWebhook)

    def __post_init__(self) -> None:
        for fake in (self.keycloak, self.okta, self.kubernetes):
            fake.tripwire = self.tripwire

    def env(self) -> dict[str, str]:
        """The worker's connector settings pointing at the fakes (``SOAR_RESPONSE__CONNECTORS__*``)."""
        prefix = "SOAR_RESPONSE__CONNECTORS__"
        kc, ok, k8s = self.keycloak, self.okta, self.kubernetes
        return {
            f"{prefix}TIMEOUT": "5",
            f"{prefix}KEYCLOAK__URL": kc.url,
            f"{prefix}KEYCLOAK__REALM": kc.realm,
            f"{prefix}KEYCLOAK__CLIENT_ID": kc.client_id,
            f"{prefix}KEYCLOAK__CLIENT_SECRET": kc.client_secret,
            f"{prefix}OKTA__URL": ok.url,
            f"{prefix}OKTA__API_TOKEN": ok.api_token,
            f"{prefix}KUBERNETES__URL": k8s.url,
            f"{prefix}KUBERNETES__TOKEN": k8s.token or "",
            f"{prefix}WEBHOOK__URL": f"{self.webhook.url}/hooks/soar",
        }
