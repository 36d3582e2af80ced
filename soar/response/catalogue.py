"""The service catalogue: which business services exist, how critical they are, which workloads serve them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from soar.errors import ConfigError
from soar.response.entities import get_path
from soar.response.settings import Service

_SERVICE_FIELDS = ("service.name", "envoy.destination.workload", "envoy.mtls.local_principal")


class Catalogue(BaseModel):
    """Services by name; a workload (SPIFFE id or name) or ``service.name`` finds its service."""

    model_config = ConfigDict(frozen=True)

    services: list[Service] = Field(default_factory=list)

    def find(self, name: str | None) -> Service | None:
        """The service named ``name`` or served by the workload ``name``."""
        if not name:
            return None
        for service in self.services:
            if service.name == name or name in service.workloads:
                return service
        return None

    def of_event(self, doc: dict[str, Any]) -> Service | None:
        """The service an event touches: its ``service.name``, else the workloads it names."""
        for path in _SERVICE_FIELDS:
            value = get_path(doc, path)
            if isinstance(value, str) and (service := self.find(value)) is not None:
                return service
        return None


def load_catalogue(path: Path | None) -> Catalogue:
    """Read the catalogue file (a YAML list of services, or ``services:``); no file, an empty catalogue.

    Raises:
        ConfigError: the file cannot be read or a service is invalid (names the file and the entry).
    """
    if path is None:
        return Catalogue()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the service catalogue: {exc}") from None
    items = data.get("services", []) if isinstance(data, dict) else data
    try:
        return Catalogue(services=[Service.model_validate(item) for item in items or []])
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: service {where}: {first['msg']}") from None
