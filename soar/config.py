"""Settings: ``SOAR_*`` environment variables and an optional ``soar.toml``, loaded once at the entry point.

Nested settings use ``__`` in the environment (``SOAR_SEARCH__URLS``, ``SOAR_TEMPORAL__ADDRESS``) and
tables in ``soar.toml`` (``[search]``, ``[temporal]``). Nothing configured means: use the embedded
engines. Secrets are ``SecretStr`` so they never print.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from soar.detect.settings import DetectSettings
from soar.errors import ConfigError
from soar.response.settings import ResponseSettings


class SearchFlavour(StrEnum):
    """Which kind of search server is on the other end; decides the wire headers and some APIs."""

    AUTO = "auto"
    ELASTICSEARCH = "elasticsearch"
    OPENSEARCH = "opensearch"


class SearchSettings(BaseModel):
    """How to reach Elasticsearch or OpenSearch; empty ``urls`` means the embedded osmem server."""

    model_config = ConfigDict(extra="forbid")

    urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    flavour: SearchFlavour = SearchFlavour.AUTO
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_certs: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    verify_certs: bool = True
    request_timeout: float = 30.0
    # One worker's sweeps and playbooks share a client: with elastic-transport's default of 10, an alert
    # write queued behind the enrichment searches of the playbooks started just before it (the response
    # bench: 0.9 s for a bulk the engine answers in 10 ms).
    connections_per_node: int = Field(default=64, ge=1)

    @field_validator("urls", mode="before")
    @classmethod
    def _split_urls(cls, value: Any) -> Any:
        # SOAR_SEARCH__URLS="https://a:9200,https://b:9200" is the natural way to write several nodes.
        if isinstance(value, str):
            return [u.strip() for u in value.split(",") if u.strip()]
        return value

    @property
    def configured(self) -> bool:
        """True when a production search engine is configured."""
        return bool(self.urls)


class TemporalSettings(BaseModel):
    """How to reach Temporal; empty ``address`` means the embedded dev server."""

    model_config = ConfigDict(extra="forbid")

    address: str | None = None
    namespace: str = "default"
    task_queue: str = "soar"
    tls: bool = False
    ca_cert: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    server_name: str | None = None
    api_key: SecretStr | None = None
    # Temporal's sandbox re-imports a playbook's module for every workflow run and proxies its globals: the
    # response bench measured it at about twice the worker's CPU per triage. The playbooks are deterministic
    # by review and CI runs them sandboxed (tests/workflows) and replays stored histories, so a worker runs
    # them unsandboxed unless this asks for the sandbox.
    sandbox: bool = False
    # How much one worker process takes on at once. With Temporal's defaults (100 each) a burst of playbooks
    # has one process poll more workflow tasks than it turns around in 5 s (TMPRL1104), and the server times
    # some out and hands them out again: work done twice, and alert hand-over waiting behind it. The response
    # bench triages as fast with 10 and 50, with no task timed out.
    max_concurrent_workflow_tasks: int = Field(default=10, ge=1)
    max_concurrent_activities: int = Field(default=50, ge=1)

    @property
    def configured(self) -> bool:
        """True when a production Temporal is configured."""
        return bool(self.address)


class EmbeddedSettings(BaseModel):
    """Ports and binaries of the embedded engines started on a laptop or in CI."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    search_port: int = 9201
    temporal_port: int = 7234
    temporal_ui_port: int = 8234
    start_timeout: float = 60.0


class Settings(BaseSettings):
    """All of soar's settings. Build once with :func:`load_settings` and pass down."""

    model_config = SettingsConfigDict(
        env_prefix="SOAR_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    data_dir: Path = Path(".soar")
    namespace: str = "default"
    search: SearchSettings = Field(default_factory=SearchSettings)
    temporal: TemporalSettings = Field(default_factory=TemporalSettings)
    embedded: EmbeddedSettings = Field(default_factory=EmbeddedSettings)
    detect: DetectSettings = Field(default_factory=DetectSettings)
    response: ResponseSettings = Field(default_factory=ResponseSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then ``SOAR_*`` environment, then ``soar.toml``; no .env, no secrets dir."""
        toml_file = settings_cls.model_config.get("toml_file")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


def load_settings(toml_file: Path | None = None, **overrides: Any) -> Settings:
    """Load settings from the environment and ``soar.toml`` (explicit path, or ./soar.toml if present).

    Raises:
        ConfigError: a value is invalid or the TOML file cannot be read; the message names the field.
    """
    path = toml_file if toml_file is not None else Path("soar.toml")
    if toml_file is not None and not path.is_file():
        raise ConfigError(f"{path}: settings file not found")

    class _Loaded(Settings):
        model_config = SettingsConfigDict(toml_file=path if path.is_file() else None)

    try:
        loaded = _Loaded(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"setting {where}: {first['msg']}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read settings: {exc}") from None
    return loaded
