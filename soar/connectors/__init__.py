"""httpx clients of the external systems containment acts on: Keycloak, Okta, Kubernetes/Istio, webhooks.

:class:`Responders` is the entry point: built once from :class:`~soar.response.settings.ConnectorSettings`,
it routes each action to its system, or writes it to a dry-run file.
"""

from soar.connectors.base import Attempt
from soar.connectors.responders import Responders

__all__ = ["Attempt", "Responders"]
