"""Fakes of the third-party HTTP APIs soar acts on, for soar's tests and for users' playbook tests.

Each fake is a small local HTTP(S) server with seedable state, a request log and mutation counters
(``fake.mutations[("disable_user", "alice")]``); :func:`connector_settings` points soar's connectors at them,
:func:`spawn` runs one in its own process (``python -m soar.testing serve``).
"""

from soar.testing.helpers import FakeProcess, connector_settings, fake_settings, read_mutations, spawn
from soar.testing.keycloak import FakeKeycloak
from soar.testing.kubernetes import FakeKubernetes
from soar.testing.okta import FakeOkta
from soar.testing.server import FakeServer
from soar.testing.webhook import FakeWebhook

__all__ = [
    "FakeKeycloak",
    "FakeKubernetes",
    "FakeOkta",
    "FakeProcess",
    "FakeServer",
    "FakeWebhook",
    "connector_settings",
    "fake_settings",
    "read_mutations",
    "spawn",
]
