"""The base of every fake: a threaded local HTTP(S) server with routes, a request log and mutation counters."""

from __future__ import annotations

import json
import re
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, unquote, urlsplit

from soar.response.settings import TlsOptions

_SECRET_FIELDS = frozenset({"client_secret", "password", "secret", "token", "api_token"})


@dataclass(frozen=True)
class Incoming:
    """One request as a fake's route sees it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        """The body as an HTML form."""
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Reply:
    """What a route answers: status, JSON body (None: empty), extra headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Logged:
    """One request in a fake's log; credentials are masked."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int


Handler = Callable[..., Reply]


class FakeServer:
    """A local HTTP server on 127.0.0.1 in a thread; subclasses add routes with :meth:`route`.

    Every request is handled under one lock, so state, log and counters are thread-safe. ``GET
    /_fake/mutations`` and ``GET /_fake/requests`` expose the counters and the log to other processes.

    Args:
        ssl_context: Serve HTTPS with this server-side context (e.g. from trustme).
        port: The port (0: any free one).
    """

    kind: ClassVar[str] = "fake"
    config_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, port: int = 0) -> None:
        self.lock = threading.RLock()
        self._mutations: Counter[tuple[str, str]] = Counter()
        self._log: list[Logged] = []
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._failures: list[int] = []
        self._lost: list[tuple[str | None, int]] = []
        self._ssl = ssl_context
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------------------------------------
    def start(self) -> Self:
        """Start serving (idempotent)."""
        if self._server is not None:
            return self
        server = ThreadingHTTPServer(("127.0.0.1", self._port), _handler(self))
        server.daemon_threads = True
        if self._ssl is not None:
            server.socket = self._ssl.wrap_socket(server.socket, server_side=True)
        self._server = server
        # A short poll interval makes stop() quick: tests start and stop fakes all the time.
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name=f"fake-{self.kind}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL (``http://127.0.0.1:<port>`` or ``https://...``)."""
        if self._server is None:
            raise RuntimeError(f"fake {self.kind} is not started")
        scheme = "https" if self._ssl is not None else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    @property
    def config(self) -> dict[str, Any]:
        """The constructor values a client needs (realm, credentials): what ``settings_from`` reads."""
        return {key: getattr(self, key) for key in self.config_keys}

    # -- what tests read -------------------------------------------------------------------------------
    @property
    def mutations(self) -> Counter[tuple[str, str]]:
        """A copy of the counters: accepted state-changing requests per ``(operation, target)``."""
        with self.lock:
            return Counter(self._mutations)

    @property
    def requests(self) -> list[Logged]:
        """A copy of the request log, oldest first."""
        with self.lock:
            return list(self._log)

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        """Answer the next ``count`` requests (not ``/_fake``) with ``status`` before touching any state."""
        with self.lock:
            self._failures.extend([status] * count)

    def lose_next(self, count: int = 1, status: int = 502, method: str | None = None) -> None:
        """Carry out the next ``count`` requests (of ``method``) but answer ``status`` instead.

        The change is made and counted and the client never learns it: as when a worker dies right after the
        server acted.
        """
        with self.lock:
            self._lost.extend([(method, status)] * count)

    def reset_log(self) -> None:
        """Forget the request log and the counters (the state stays)."""
        with self.lock:
            self._log.clear()
            self._mutations.clear()

    # -- for subclasses --------------------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Serve ``method`` on paths matching ``pattern`` (named groups are passed, URL-decoded)."""
        self._routes.append((method, re.compile(f"^{pattern}$"), handler))

    def count(self, operation: str, target: str) -> None:
        """Count one accepted state-changing request (call with the lock held, i.e. from a route)."""
        self._mutations[(operation, target)] += 1

    def authorize(self, request: Incoming) -> Reply | None:
        """None when the request may proceed, else the refusal (subclasses check credentials)."""
        return None

    @staticmethod
    def settings_from(url: str, config: Mapping[str, Any], **tls: Any) -> TlsOptions:
        """The connector settings block pointing at a fake of this kind at ``url`` (subclasses)."""
        raise NotImplementedError

    def seed(self, data: Mapping[str, Any]) -> None:
        """Load users, clients, pods... from a seed document (subclasses)."""

    @classmethod
    def from_seed(cls, data: Mapping[str, Any], **options: Any) -> Self:
        """A fake configured and seeded from one document (``python -m soar.testing serve --seed``)."""
        fake = cls(**{k: data[k] for k in cls.config_keys if k in data}, **options)
        fake.seed(data)
        return fake

    # -- dispatch --------------------------------------------------------------------------------------
    def dispatch(self, request: Incoming) -> Reply:
        """Answer one request: the built-in ``/_fake`` routes, injected failures, then the fake's routes."""
        with self.lock:
            if request.path.startswith("/_fake/"):
                return self._introspect(request)
            reply = self._answer(request)
            self._log.append(_logged(request, reply.status))
            return reply

    def _answer(self, request: Incoming) -> Reply:
        if self._failures:
            return Reply(self._failures.pop(0), {"error": "injected failure"})
        matched_path = False
        for method, pattern, handler in self._routes:
            found = pattern.match(request.path)
            if found is None:
                continue
            matched_path = True
            if method != request.method:
                continue
            refusal = self.authorize(request)
            if refusal is not None:
                return refusal
            args = {k: unquote(v) for k, v in found.groupdict().items()}
            try:
                reply = handler(request, **args)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                return Reply(400, {"error": "bad request", "message": f"{type(exc).__name__}: {exc}"})
            return self._maybe_lost(request, reply)
        return Reply(405 if matched_path else 404, {"error": "no such endpoint"})

    def _maybe_lost(self, request: Incoming, reply: Reply) -> Reply:
        for index, (method, status) in enumerate(self._lost):
            if method is None or method == request.method:
                del self._lost[index]
                return Reply(status, {"error": "the answer was lost"})
        return reply

    def _introspect(self, request: Incoming) -> Reply:
        if request.path == "/_fake/mutations":
            rows = [
                {"operation": o, "target": t, "count": n} for (o, t), n in sorted(self._mutations.items())
            ]
            return Reply(200, {"kind": self.kind, "mutations": rows})
        if request.path == "/_fake/requests":
            return Reply(200, {"kind": self.kind, "requests": [vars(entry) for entry in self._log]})
        return Reply(404, {"error": "no such endpoint"})


def _masked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    masked = dict(headers)
    if "authorization" in masked:
        scheme = masked["authorization"].split(" ", 1)[0]
        masked["authorization"] = f"{scheme} ***"
    return masked


def _logged(request: Incoming, status: int) -> Logged:
    body: Any
    try:
        body = request.json()
    except ValueError:
        body = request.form() if b"=" in request.body else request.body.decode(errors="replace")
    if isinstance(body, dict):
        body = {k: "***" if k in _SECRET_FIELDS else v for k, v in body.items()}
    return Logged(request.method, request.path, request.query, _masked_headers(request.headers), body, status)


def _handler(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects
        disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed-ACK stall

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Incoming(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            reply = fake.dispatch(request)
            data = b"" if reply.body is None else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            if reply.body is not None:
                self.send_header("Content-Type", "application/json")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: the fake keeps its own log."""

    return Handler
