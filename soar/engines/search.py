"""The one factory for search clients: Elasticsearch 8/9 and OpenSearch-compatible servers (osmem, OpenSearch).

elasticsearch-py 9 sends ``application/vnd.elasticsearch+json; compatible-with=9``, which OpenSearch-compatible
servers answer with 406 (DESIGN.md, trap 2). For them the client uses :class:`PlainJsonNode`, which rewrites
the compatibility media types to plain JSON / NDJSON and vouches for the product on responses (real
OpenSearch does not send ``X-Elastic-Product``). Elasticsearch gets the client's own headers unchanged.

Both speak HTTP through aiohttp (elastic-transport's aiohttp node, elasticsearch-py's ``async`` extra): per
request it takes about a fifth of the CPU of the httpx node, whose pool checks every idle connection for
expiry on each request. A worker sends several requests per playbook step, so that is most of its CPU.
"""

from __future__ import annotations

import dataclasses
import json
import ssl
from dataclasses import dataclass
from typing import Any

import httpx
from elastic_transport import AiohttpHttpNode, HttpHeaders, NodeConfig
from elastic_transport import TransportError as VendorTransportError
from elastic_transport._node import NodeApiResponse
from elasticsearch import ApiError, AsyncElasticsearch

from soar.config import SearchFlavour, SearchSettings
from soar.errors import ConfigError, EngineUnavailable, SearchError

_COMPAT_REWRITES = {
    "application/vnd.elasticsearch+json": "application/json",
    "application/vnd.elasticsearch+x-ndjson": "application/x-ndjson",
}


def _plain_media_type(value: str) -> str:
    base = value.split(";", 1)[0].strip()
    return _COMPAT_REWRITES.get(base, value)


class PlainJsonNode(AiohttpHttpNode):
    """An aiohttp node that speaks plain JSON, for OpenSearch-compatible servers."""

    async def perform_request(  # type: ignore[override]  # same signature as the parent's, which mypy sees loosely
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: Any = None,
        request_timeout: Any = None,
    ) -> Any:
        """Send the request with plain JSON media types; vouch for the product on the response."""
        if headers is not None:
            headers = headers.copy()
            for name in ("accept", "content-type"):
                if name in headers:
                    headers[name] = _plain_media_type(headers[name])
        if request_timeout is None:
            response = await super().perform_request(method, target, body=body, headers=headers)
        else:
            response = await super().perform_request(
                method, target, body=body, headers=headers, request_timeout=request_timeout
            )
        meta = response.meta
        if "x-elastic-product" in meta.headers:
            return response
        vouched = HttpHeaders(meta.headers)
        vouched["x-elastic-product"] = "Elasticsearch"
        return NodeApiResponse(dataclasses.replace(meta, headers=vouched), response.body)


@dataclass
class SearchClient:
    """An async search client together with the flavour of server it talks to."""

    es: AsyncElasticsearch
    flavour: SearchFlavour
    url: str

    @property
    def is_opensearch(self) -> bool:
        """True for OpenSearch and OpenSearch-compatible servers such as osmem."""
        return self.flavour is SearchFlavour.OPENSEARCH

    async def close(self) -> None:
        """Close the connections."""
        await self.es.close()

    async def __aenter__(self) -> SearchClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def ssl_context(settings: SearchSettings) -> ssl.SSLContext | bool:
    """The TLS context for the configured CA bundle, client certificate (mTLS) and verify flag."""
    if not settings.verify_certs:
        return False
    ctx = ssl.create_default_context(cafile=str(settings.ca_certs) if settings.ca_certs else None)
    if settings.client_cert is not None:
        try:
            ctx.load_cert_chain(
                str(settings.client_cert), str(settings.client_key) if settings.client_key else None
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"search.client_cert: cannot load client certificate: {exc}") from None
    return ctx


def _auth_headers(settings: SearchSettings) -> dict[str, str]:
    if settings.api_key is not None:
        return {"Authorization": f"ApiKey {settings.api_key.get_secret_value()}"}
    return {}


def _basic_auth(settings: SearchSettings) -> tuple[str, str] | None:
    if settings.username and settings.password is not None:
        return (settings.username, settings.password.get_secret_value())
    return None


async def detect_flavour(settings: SearchSettings, url: str) -> SearchFlavour:
    """Ask the server's root endpoint which product it is."""
    try:
        async with httpx.AsyncClient(
            verify=ssl_context(settings),
            auth=_basic_auth(settings),
            headers=_auth_headers(settings),
            timeout=settings.request_timeout,
        ) as http:
            response = await http.get(url.rstrip("/") + "/")
    except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
        # Under TLS 1.3 a refused client certificate arrives as an alert after the handshake, and can
        # surface as a bare ssl.SSLError rather than an httpx error.
        raise EngineUnavailable(f"search engine at {url} is not reachable: {type(exc).__name__}") from None
    if response.status_code in (401, 403):
        raise SearchError(f"search engine at {url} refused the credentials (HTTP {response.status_code})")
    try:
        info = response.json()
    except json.JSONDecodeError:
        raise SearchError(
            f"search engine at {url} did not answer with JSON (HTTP {response.status_code})"
        ) from None
    distribution = str(info.get("version", {}).get("distribution", "")).lower()
    return SearchFlavour.OPENSEARCH if distribution == "opensearch" else SearchFlavour.ELASTICSEARCH


def _node_class(flavour: SearchFlavour) -> type[AiohttpHttpNode]:
    return PlainJsonNode if flavour is SearchFlavour.OPENSEARCH else AiohttpHttpNode


async def connect_search(settings: SearchSettings, url: str | None = None) -> SearchClient:
    """Build the async client for the configured search engine (or ``url``, e.g. the embedded one).

    Raises:
        ConfigError: no URL is known.
        EngineUnavailable: the flavour had to be detected and the server did not answer.
    """
    urls = [url] if url else list(settings.urls)
    if not urls:
        raise ConfigError("search.urls: no search engine configured and none running")
    flavour = settings.flavour
    if flavour is SearchFlavour.AUTO:
        flavour = await detect_flavour(settings, urls[0])
    tls = ssl_context(settings) if any(u.startswith("https") for u in urls) else None
    es = AsyncElasticsearch(
        hosts=urls,
        node_class=_node_class(flavour),
        api_key=settings.api_key.get_secret_value() if settings.api_key else None,
        basic_auth=_basic_auth(settings),
        ssl_context=tls if isinstance(tls, ssl.SSLContext) else None,
        verify_certs=settings.verify_certs,
        ssl_show_warn=False,
        request_timeout=settings.request_timeout,
        retry_on_timeout=True,
        max_retries=3,
        connections_per_node=settings.connections_per_node,
    )
    return SearchClient(es=es, flavour=flavour, url=urls[0])


def search_error(exc: Exception, what: str) -> SearchError:
    """Translate a vendor error into a SearchError that names what was being done, never a secret."""
    if isinstance(exc, ApiError):
        reason = exc.message
        body = exc.body if isinstance(exc.body, dict) else {}
        err = body.get("error")
        if isinstance(err, dict) and err.get("reason"):
            reason = f"{err.get('type', reason)}: {err['reason']}"
        return SearchError(f"{what}: HTTP {exc.meta.status}: {reason}")
    if isinstance(exc, VendorTransportError):
        return SearchError(f"{what}: {type(exc).__name__}: {exc.message}")
    return SearchError(f"{what}: {type(exc).__name__}: {exc}")


__all__ = ["NodeConfig", "PlainJsonNode", "SearchClient", "connect_search", "detect_flavour", "search_error"]
