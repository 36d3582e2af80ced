"""The search client over TLS and mTLS, with an API key, against a local HTTPS endpoint (trustme certificates)."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme

from soar.config import SearchFlavour, SearchSettings
from soar.engines.search import connect_search
from soar.errors import EngineUnavailable, SearchError

SECRET = "dGVzdDpzdXBlci1zZWNyZXQta2V5"


@dataclass
class FakeCluster:
    """What the endpoint answers and what it saw."""

    distribution: str | None = None
    status: int = 200
    seen: list[dict[str, str]] = field(default_factory=list)
    peer_certs: list[object] = field(default_factory=list)


def _handler(cluster: FakeCluster) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            cluster.seen.append({k.lower(): v for k, v in self.headers.items()})
            cluster.peer_certs.append(self.connection.getpeercert())  # type: ignore[attr-defined]
            version: dict[str, str] = {"number": "9.1.0"}
            if cluster.distribution:
                version = {"number": "3.1.0", "distribution": cluster.distribution}
            body = json.dumps({"name": "node-1", "cluster_name": "bank", "version": version}).encode()
            if cluster.status != 200:
                body = json.dumps(
                    {"error": {"type": "security_exception", "reason": "unable to authenticate"}}
                ).encode()
            self.send_response(cluster.status)
            self.send_header("Content-Type", "application/json")
            if cluster.distribution is None:
                self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@dataclass
class Pki:
    ca_file: Path
    client_cert: Path
    client_key: Path
    ca: trustme.CA


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = trustme.CA()
    client = ca.issue_cert("soar-detection@bank.example")
    paths = Pki(tmp_path / "ca.pem", tmp_path / "client.pem", tmp_path / "client.key", ca)
    ca.cert_pem.write_to_path(str(paths.ca_file))
    client.cert_chain_pems[0].write_to_path(str(paths.client_cert))
    client.private_key_pem.write_to_path(str(paths.client_key))
    return paths


def _serve(pki: Pki, cluster: FakeCluster, *, require_client_cert: bool) -> Iterator[str]:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    pki.ca.issue_cert("localhost", "127.0.0.1").configure_cert(ctx)
    if require_client_cert:
        pki.ca.configure_trust(ctx)
        ctx.verify_mode = ssl.CERT_REQUIRED
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(cluster))
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def cluster() -> FakeCluster:
    return FakeCluster()


@pytest.fixture
def tls_url(pki: Pki, cluster: FakeCluster) -> Iterator[str]:
    yield from _serve(pki, cluster, require_client_cert=False)


@pytest.fixture
def mtls_url(pki: Pki, cluster: FakeCluster) -> Iterator[str]:
    yield from _serve(pki, cluster, require_client_cert=True)


async def test_tls_with_ca_bundle_and_api_key_speaks_elasticsearch(
    pki: Pki, cluster: FakeCluster, tls_url: str
) -> None:
    settings = SearchSettings(urls=[tls_url], ca_certs=pki.ca_file, api_key=SECRET)
    async with await connect_search(settings) as client:
        assert client.flavour is SearchFlavour.ELASTICSEARCH
        info = await client.es.info()
    assert info["cluster_name"] == "bank"
    request = cluster.seen[-1]
    assert request["authorization"] == f"ApiKey {SECRET}"
    # Elasticsearch gets the client's compatibility media type unchanged.
    assert request["accept"].startswith("application/vnd.elasticsearch+json")


async def test_untrusted_server_certificate_is_refused(cluster: FakeCluster, tls_url: str) -> None:
    with pytest.raises(EngineUnavailable, match="not reachable"):
        await connect_search(SearchSettings(urls=[tls_url]))
    assert cluster.seen == []


async def test_opensearch_flavour_gets_plain_json_and_no_product_header(
    pki: Pki, cluster: FakeCluster, tls_url: str
) -> None:
    cluster.distribution = "opensearch"
    async with await connect_search(SearchSettings(urls=[tls_url], ca_certs=pki.ca_file)) as client:
        assert client.is_opensearch
        info = await client.es.info()  # the product check must not refuse OpenSearch
    assert info["version"]["distribution"] == "opensearch"
    assert cluster.seen[-1]["accept"] == "application/json"


async def test_mtls_requires_the_client_certificate(pki: Pki, cluster: FakeCluster, mtls_url: str) -> None:
    with pytest.raises(EngineUnavailable):
        await connect_search(SearchSettings(urls=[mtls_url], ca_certs=pki.ca_file))
    settings = SearchSettings(
        urls=[mtls_url], ca_certs=pki.ca_file, client_cert=pki.client_cert, client_key=pki.client_key
    )
    async with await connect_search(settings) as client:
        await client.es.info()
    # The server verified the client certificate and saw the identity it names.
    peer = cluster.peer_certs[-1]
    assert isinstance(peer, dict)
    assert ("email", "soar-detection@bank.example") in peer["subjectAltName"]


async def test_refused_credentials_never_echo_the_secret(
    pki: Pki, cluster: FakeCluster, tls_url: str
) -> None:
    cluster.status = 401
    with pytest.raises(SearchError) as caught:
        await connect_search(SearchSettings(urls=[tls_url], ca_certs=pki.ca_file, api_key=SECRET))
    assert "refused the credentials" in str(caught.value)
    assert SECRET not in str(caught.value)
