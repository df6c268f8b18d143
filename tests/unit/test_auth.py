"""Token providers: static token, OAuth2 client credentials against a real loopback token endpoint."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
import requests
from structlog.testing import capture_logs

from publisher.errors import AuthError, ConfigError, NetstreamUnavailable
from publisher.netstream.auth import (
    ClientCredentialsProvider,
    StaticTokenProvider,
    Token,
    entra_token_url,
)
from unit.scripted_server import Recorded, Reply, ScriptedServer, json_reply

TOKEN_PATH = "/tenant-1/oauth2/v2.0/token"
SECRET = "s3cr3t-Value~xyz"
SCOPE = "api://dedb5554-7c2d-4cc1-9fb4-514315a4387c/.default"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as running:
        yield running


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


def provider(
    server: ScriptedServer,
    session: requests.Session,
    clock: FakeClock,
    *,
    expires_in: object = 3599,
    refresh_margin: float = 300.0,
) -> ClientCredentialsProvider:
    counter = itertools.count(1)

    def handler(_request: Recorded) -> Reply:
        return json_reply(
            {
                "token_type": "Bearer",
                "expires_in": expires_in,
                "ext_expires_in": expires_in,
                "access_token": f"jwt-{next(counter)}",
            }
        )

    server.fallback(TOKEN_PATH, handler)
    return ClientCredentialsProvider(
        server.url + TOKEN_PATH,
        "client-1",
        SECRET,
        SCOPE,
        session=session,
        timeout=(5.0, 10.0),
        refresh_margin=refresh_margin,
        clock=clock,
    )


# ------------------------------------------------------------------------------------------------ basics


def test_entra_token_url_is_built_from_the_tenant() -> None:
    assert (
        entra_token_url("0f1e2d3c-aaaa")
        == "https://login.microsoftonline.com/0f1e2d3c-aaaa/oauth2/v2.0/token"
    )
    assert entra_token_url(" contoso.onmicrosoft.com ").endswith("/contoso.onmicrosoft.com/oauth2/v2.0/token")


def test_entra_token_url_needs_a_tenant() -> None:
    with pytest.raises(ConfigError, match="NETSTREAM_TENANT_ID"):
        entra_token_url("  ")


def test_token_repr_and_str_mask_the_value() -> None:
    token = Token("eyJhbGciOi.secret-part", fresh=True)
    assert "secret-part" not in repr(token)
    assert "secret-part" not in str(token)
    assert "fresh=True" in repr(token)


def test_static_token_is_never_fresh_and_a_401_on_it_is_fatal() -> None:
    tokens = StaticTokenProvider(" static-abc ")
    token = tokens.get()
    assert token == Token("static-abc", fresh=False)
    assert "static-abc" not in repr(tokens)
    with pytest.raises(AuthError, match="NETSTREAM_TOKEN") as caught:
        tokens.invalidate(token)
    assert "static-abc" not in str(caught.value)
    assert caught.value.exit_code == 3


def test_static_token_must_not_be_empty() -> None:
    with pytest.raises(ConfigError, match="NETSTREAM_TOKEN"):
        StaticTokenProvider("")


def test_client_credentials_need_id_and_secret(session: requests.Session) -> None:
    with pytest.raises(ConfigError, match="NETSTREAM_CLIENT_ID"):
        ClientCredentialsProvider("http://127.0.0.1:1/t", " ", SECRET, SCOPE, session=session)
    with pytest.raises(ConfigError, match="NETSTREAM_CLIENT_SECRET"):
        ClientCredentialsProvider("http://127.0.0.1:1/t", "client-1", "", SCOPE, session=session)


# ------------------------------------------------------------------------------------------------ caching


def test_posts_the_client_credentials_form(server: ScriptedServer, session: requests.Session) -> None:
    tokens = provider(server, session, FakeClock())
    assert tokens.get() == Token("jwt-1", fresh=True)
    (request,) = server.requests_to(TOKEN_PATH)
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body.decode()) == {
        "client_id": ["client-1"],
        "client_secret": [SECRET],
        "scope": [SCOPE],
        "grant_type": ["client_credentials"],
    }


def test_one_token_request_serves_many_calls(server: ScriptedServer, session: requests.Session) -> None:
    clock = FakeClock()
    tokens = provider(server, session, clock)
    first = tokens.get()
    later = [tokens.get() for _ in range(50)]
    assert first == Token("jwt-1", fresh=True)
    assert set(later) == {Token("jwt-1", fresh=False)}
    assert len(server.requests_to(TOKEN_PATH)) == 1


def test_refreshes_shortly_before_expiry(server: ScriptedServer, session: requests.Session) -> None:
    clock = FakeClock()
    tokens = provider(server, session, clock, expires_in=3599, refresh_margin=300.0)
    start = clock.now
    tokens.get()
    clock.now = start + 3599 - 300 - 0.001
    assert tokens.get() == Token("jwt-1", fresh=False)
    clock.now = start + 3599 - 300
    assert tokens.get() == Token("jwt-2", fresh=True)
    assert len(server.requests_to(TOKEN_PATH)) == 2


def test_margin_is_capped_at_half_the_lifetime(server: ScriptedServer, session: requests.Session) -> None:
    clock = FakeClock()
    tokens = provider(server, session, clock, expires_in="60", refresh_margin=300.0)
    start = clock.now
    tokens.get()
    clock.now = start + 29.9
    assert tokens.get().value == "jwt-1"
    clock.now = start + 30.0
    assert tokens.get() == Token("jwt-2", fresh=True)


def test_invalidate_drops_only_the_cached_token(server: ScriptedServer, session: requests.Session) -> None:
    tokens = provider(server, session, FakeClock())
    stale = tokens.get()
    tokens.invalidate(stale)
    renewed = tokens.get()
    assert renewed == Token("jwt-2", fresh=True)
    tokens.invalidate(stale)  # another caller's late invalidate of the old token keeps the new one
    assert tokens.get() == Token("jwt-2", fresh=False)
    assert len(server.requests_to(TOKEN_PATH)) == 2


def test_concurrent_callers_share_one_refresh(server: ScriptedServer, session: requests.Session) -> None:
    tokens = provider(server, session, FakeClock())
    barrier = threading.Barrier(8)
    got: list[Token] = []
    lock = threading.Lock()

    def call() -> None:
        barrier.wait()
        token = tokens.get()
        with lock:
            got.append(token)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(server.requests_to(TOKEN_PATH)) == 1
    assert sorted(token.fresh for token in got) == [False] * 7 + [True]
    assert {token.value for token in got} == {"jwt-1"}


# ------------------------------------------------------------------------------------------------ failures


@pytest.mark.parametrize("status", [400, 401])
def test_refused_credentials_are_fatal_and_name_the_settings(
    server: ScriptedServer, session: requests.Session, status: int
) -> None:
    server.script(
        TOKEN_PATH,
        json_reply(
            {
                "error": "invalid_client",
                "error_description": f"AADSTS7000215: Invalid client secret: {SECRET}.\r\nTrace ID: 1",
            },
            status=status,
        ),
    )
    tokens = provider(server, session, FakeClock())
    with pytest.raises(AuthError) as caught:
        tokens.get()
    message = str(caught.value)
    for name in ("NETSTREAM_CLIENT_ID", "NETSTREAM_CLIENT_SECRET", "NETSTREAM_TENANT_ID", "invalid_client"):
        assert name in message
    assert f"HTTP {status}" in message
    assert SECRET not in message
    assert "\n" not in message


def test_other_token_endpoint_4xx_points_at_the_url(
    server: ScriptedServer, session: requests.Session
) -> None:
    server.script(TOKEN_PATH, Reply(status=404, body=b"not here", content_type="text/plain"))
    with pytest.raises(AuthError, match="NETSTREAM_TOKEN_URL"):
        provider(server, session, FakeClock()).get()


@pytest.mark.parametrize("status", [429, 500, 503])
def test_token_endpoint_outage_is_transient(
    server: ScriptedServer, session: requests.Session, status: int
) -> None:
    server.script(TOKEN_PATH, Reply(status=status))
    tokens = provider(server, session, FakeClock())
    with pytest.raises(NetstreamUnavailable) as caught:
        tokens.get()
    assert caught.value.status == status
    assert tokens.get() == Token("jwt-1", fresh=True)  # the next call succeeds


def test_unreachable_token_endpoint_is_transient(session: requests.Session) -> None:
    with ScriptedServer() as gone:
        url = gone.url + TOKEN_PATH
    tokens = ClientCredentialsProvider(url, "client-1", SECRET, SCOPE, session=session, timeout=(2.0, 2.0))
    with pytest.raises(NetstreamUnavailable, match="unreachable") as caught:
        tokens.get()
    assert isinstance(caught.value.__cause__, requests.ConnectionError)


@pytest.mark.parametrize(
    "reply",
    [
        Reply(body=b"<html>proxy</html>", content_type="text/html"),
        json_reply({"token_type": "Bearer"}),
        json_reply({"access_token": "jwt-x", "expires_in": "soon"}),
        json_reply({"access_token": "jwt-x", "expires_in": 0}),
        json_reply(["not", "an", "object"]),
    ],
)
def test_unusable_token_response_is_transient(
    server: ScriptedServer, session: requests.Session, reply: Reply
) -> None:
    server.script(TOKEN_PATH, reply)
    with pytest.raises(NetstreamUnavailable, match="token endpoint"):
        provider(server, session, FakeClock()).get()


# ------------------------------------------------------------------------------------------------ secrets


def test_secrets_never_reach_repr_or_logs(server: ScriptedServer, session: requests.Session) -> None:
    clock = FakeClock()
    tokens = provider(server, session, clock)
    with capture_logs() as logs:
        token = tokens.get()
        tokens.invalidate(token)
        tokens.get()
        server.script(TOKEN_PATH, json_reply({"error": "invalid_client", "error_description": SECRET}, 401))
        tokens.invalidate(Token("jwt-2", fresh=False))
        with pytest.raises(AuthError) as caught:
            tokens.get()
    assert [entry["event"] for entry in logs] == [
        "token_refreshed",
        "token_invalidated",
        "token_refreshed",
        "token_invalidated",
        "token_request_failed",
    ]
    assert logs[0]["expires_in"] == 3599
    rendered = repr(logs) + repr(tokens) + str(tokens) + str(caught.value) + repr(caught.value)
    for secret in (SECRET, "jwt-1", "jwt-2"):
        assert secret not in rendered
