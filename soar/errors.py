"""The one exception tree of soar.

Vendor errors (elasticsearch, httpx, temporalio) are translated into these at the client and
connector modules, with ``raise ... from exc``. A user-facing error names the file, line, rule
id or field that caused it; the CLI prints ``str(error)`` on one line and exits non-zero.

    SoarError
    ├── ConfigError                  bad settings or soar.toml
    ├── EngineError                  a search or workflow engine
    │   ├── EngineUnavailable        not reachable / not running
    │   ├── EngineStartError         an embedded engine failed to start
    │   └── SearchError              a search-engine request failed
    ├── InputError                   bad user input; carries file / line / field
    │   ├── NormalisationError       a raw telemetry record that cannot become ECS
    │   ├── RuleError                a Sigma rule that cannot load, validate or compile
    │   └── AssessmentError          a DORA assessment or report input that is invalid
    ├── ScenarioError                unknown scenario or bad generator parameters
    ├── AuditError                   an audit chain conflict or a malformed audit record
    └── ConnectorError               an external HTTP API (IdP, Kubernetes, webhook) failed or refused
        └── ConnectorUnavailable     not reachable, timed out, rate-limited or 5xx: worth retrying
"""

from __future__ import annotations


class SoarError(Exception):
    """Base of every error soar raises on purpose."""


class ConfigError(SoarError):
    """Settings that cannot be used (bad value, unreadable soar.toml, missing file)."""


class EngineError(SoarError):
    """A search or workflow engine failed."""


class EngineUnavailable(EngineError):
    """An engine is not reachable or not running."""


class EngineStartError(EngineError):
    """An embedded engine could not be started."""


class SearchError(EngineError):
    """A request to the search engine failed."""


class InputError(SoarError):
    """Bad input from a person or a file, located as precisely as known.

    The message reads ``file:line: field: reason`` with absent parts left out, so the CLI can print
    it on one line.
    """

    def __init__(
        self,
        reason: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        self.field = field
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file if self.line is None else f"{self.file}:{self.line}"
        elif self.line is not None:
            where = f"line {self.line}"
        parts = [p for p in (where, self.field) if p]
        prefix = ": ".join(parts)
        text = f"{prefix}: {self.reason}" if prefix else self.reason
        return " ".join(text.split())  # one line, always


class NormalisationError(InputError):
    """A raw telemetry record that cannot be turned into an ECS document."""


class RuleError(InputError):
    """A Sigma rule that cannot be loaded, validated or compiled."""

    def __init__(
        self,
        reason: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        rule_id: str | None = None,
    ) -> None:
        self.rule_id = rule_id
        if rule_id:
            reason = f"rule {rule_id}: {reason}"
        super().__init__(reason, file=file, line=line, field=field)


class AssessmentError(InputError):
    """A DORA assessment or report input that is invalid; ``field`` names the input or template field."""


class ScenarioError(SoarError):
    """An unknown scenario or bad generator parameters."""


class AuditError(SoarError):
    """An audit record that conflicts with the stored chain, or a stored record that cannot be read."""


class ConnectorError(SoarError):
    """An external HTTP API (IdP admin, Kubernetes, webhook) failed or refused."""


class ConnectorUnavailable(ConnectorError):
    """An external HTTP API was not reachable, timed out, rate-limited soar or failed (5xx); a retry may work."""
