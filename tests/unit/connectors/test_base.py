"""What every connector shares: error translation, secret hygiene, TLS options, dry-run files."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from soar.connectors.base import Call, DryRun, Http, build_client, safe_headers, ssl_context
from soar.errors import ConfigError, ConnectorError, ConnectorUnavailable
from soar.response.models import ActionKind, ActionOutcome, EntityKind
from soar.response.settings import TlsOptions

from .conftest import make_spec

SECRET = "tok-3f9a-very-secret"


def _http(handler: httpx.MockTransport) -> Http:
    client = build_client("okta", "https://bank.okta.example", TlsOptions(), 5.0, transport=handler)
    return Http("okta", client, secrets=[SECRET])


@pytest.mark.parametrize(
    ("status", "body", "kind", "text"),
    [
        (
            403,
            {"errorSummary": "You do not have permission"},
            ConnectorError,
            "403 Forbidden: You do not have permission",
        ),
        (404, {"message": 'pods "x" not found'}, ConnectorError, '404 Not Found: pods "x" not found'),
        (429, {"errorSummary": "Too Many Requests"}, ConnectorUnavailable, "429 Too Many Requests"),
        (500, "not json", ConnectorUnavailable, "500 Internal Server Error"),
        (503, {"error": "down"}, ConnectorUnavailable, "503 Service Unavailable: down"),
    ],
)
async def test_error_statuses_become_one_line_connector_errors(
    status: int, body: object, kind: type[ConnectorError], text: str
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return (
            httpx.Response(status, json=body)
            if isinstance(body, dict)
            else httpx.Response(status, text=str(body))
        )

    http = _http(httpx.MockTransport(answer))
    trace: list[str] = []
    with pytest.raises(ConnectorError) as caught:
        await http.send(Call("GET", "/api/v1/users/u1", params={"q": "x"}), trace)
    await http.aclose()
    assert type(caught.value) is kind
    assert str(caught.value) == f"okta: GET /api/v1/users/u1: {text}"
    assert trace == ["GET /api/v1/users/u1"]


async def test_secrets_echoed_by_a_server_are_redacted() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401, json={"error_description": f"bad token {request.headers['Authorization']}\nbye"}
        )

    http = _http(httpx.MockTransport(echo))
    with pytest.raises(ConnectorError) as caught:
        await http.send(Call("GET", "/x"), [], headers={"Authorization": f"SSWS {SECRET}"})
    await http.aclose()
    assert SECRET not in str(caught.value)
    assert str(caught.value) == "okta: GET /x: 401 Unauthorized: bad token SSWS *** bye"


async def test_network_failures_are_retryable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out")

    for handler, text in ((refuse, "not reachable: [Errno 111] Connection refused"), (slow, "timed out")):
        http = _http(httpx.MockTransport(handler))
        with pytest.raises(ConnectorUnavailable) as caught:
            await http.send(Call("POST", "/api/v1/users/u1/lifecycle/suspend"), [])
        await http.aclose()
        assert str(caught.value) == f"okta: POST /api/v1/users/u1/lifecycle/suspend: {text}"


async def test_allowed_statuses_are_returned() -> None:
    http = _http(httpx.MockTransport(lambda request: httpx.Response(409, json={"reason": "AlreadyExists"})))
    response = await http.send(Call("POST", "/apis/x"), [], allow=frozenset({409}))
    await http.aclose()
    assert response.status_code == 409


def test_tls_options_build_a_context_or_name_the_bad_file(tmp_path: Path) -> None:
    assert ssl_context(TlsOptions(verify=False), "keycloak") is False
    assert not isinstance(ssl_context(TlsOptions(), "keycloak"), bool)
    missing = tmp_path / "nope.pem"
    with pytest.raises(ConfigError, match=r"^keycloak.ca_certs: cannot load the CA bundle"):
        ssl_context(TlsOptions(ca_certs=missing), "keycloak")
    with pytest.raises(ConfigError, match=r"^okta.client_cert: cannot load the client certificate"):
        ssl_context(TlsOptions(client_cert=missing), "okta")


def test_dry_run_file_holds_the_exact_request_without_secrets(tmp_path: Path) -> None:
    spec = make_spec(ActionKind.BLOCK_ADDRESS, EntityKind.ADDRESS, "198.51.100.7")
    calls = [
        Call(
            "POST", "/apis/security.istio.io/v1/namespaces/istio-system/authorizationpolicies", body={"a": 1}
        )
    ]
    result = DryRun(tmp_path / "out").write(
        spec,
        "apply",
        "kubernetes",
        "https://k8s.bank.example:6443",
        calls,
        {"Authorization": f"Bearer {SECRET}"},
    )
    assert result.outcome is ActionOutcome.DRY_RUN
    path = Path(result.dry_run_file or "")
    assert path == tmp_path / "out" / f"{spec.key}-apply.json"
    text = path.read_text()
    assert SECRET not in text
    document = json.loads(text)
    assert document["requests"] == [
        {
            "method": "POST",
            "url": "https://k8s.bank.example:6443/apis/security.istio.io/v1/namespaces/istio-system/authorizationpolicies",
            "headers": {"Authorization": "<redacted>", "Content-Type": "application/json"},
            "body": {"a": 1},
        }
    ]
    assert document["target"]["value"] == "198.51.100.7"
    assert result.requests == [calls[0].line]
    assert list((tmp_path / "out").iterdir()) == [path]  # no temporary file left behind


def test_dry_run_into_an_unwritable_place_is_a_connector_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    spec = make_spec(ActionKind.BLOCK_ADDRESS, EntityKind.ADDRESS, "198.51.100.7")
    with pytest.raises(ConnectorError, match="dry run: cannot write"):
        DryRun(blocker / "sub").write(spec, "apply", "kubernetes", "https://k", [], {})


def test_safe_headers() -> None:
    headers = {"Authorization": "SSWS x", "X-Soar-Signature": "sha256=ab", "Idempotency-Key": "k"}
    assert safe_headers(headers) == {
        "Authorization": "<redacted>",
        "X-Soar-Signature": "<redacted>",
        "Idempotency-Key": "k",
    }
