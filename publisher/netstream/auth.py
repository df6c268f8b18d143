"""Bearer tokens for the Netstream API: a static token, or OAuth2 client credentials against Entra ID.

The transport asks a :class:`TokenProvider` for a token before every request and reacts to a 401 by its
``fresh`` flag:

- a cached token (``fresh=False``) may simply have expired early: the transport calls
  :meth:`TokenProvider.invalidate` and retries once with a new token;
- a token issued for this very call (``fresh=True``) that is refused means the registration or the scope
  is wrong: :class:`~publisher.errors.AuthError`, no retry.

A static token (``NETSTREAM_TOKEN``) cannot be renewed. :class:`StaticTokenProvider` hands it out with
``fresh=False`` (it was not issued for the call) and its :meth:`~StaticTokenProvider.invalidate` raises
:class:`~publisher.errors.AuthError` naming ``NETSTREAM_TOKEN``: a 401 on a static token is fatal.

Token values and the client secret never appear in ``repr``/``str``, log events or error messages.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import requests
import structlog

from publisher.errors import AuthError, ConfigError, NetstreamUnavailable

log = structlog.get_logger(__name__)

_MASK = "***"
_CREDENTIALS_HINT = "check NETSTREAM_CLIENT_ID, NETSTREAM_CLIENT_SECRET and NETSTREAM_TENANT_ID"


@dataclass(frozen=True, repr=False)
class Token:
    """A bearer token. ``fresh`` is True when it was acquired for this call rather than taken from a cache."""

    value: str
    fresh: bool

    def __repr__(self) -> str:
        return f"Token(value={_MASK!r}, fresh={self.fresh})"


class TokenProvider(Protocol):
    """Where the transport gets bearer tokens."""

    def get(self) -> Token:
        """A token for the next request. Raises AuthError (fatal) or NetstreamUnavailable (transient)."""
        ...

    def invalidate(self, token: Token) -> None:
        """Drop ``token`` from the cache if it is still the cached one; AuthError if it cannot be renewed."""
        ...


def entra_token_url(tenant_id: str) -> str:
    """The Entra ID (Azure AD) v2.0 token endpoint of a tenant."""
    tenant = tenant_id.strip()
    if not tenant:
        raise ConfigError("NETSTREAM_TENANT_ID is empty; set it to the Tenant ID shown under API Security")
    return f"https://login.microsoftonline.com/{quote(tenant, safe='')}/oauth2/v2.0/token"


class StaticTokenProvider:
    """A fixed bearer token (``NETSTREAM_TOKEN``). A 401 on it is fatal: it cannot be renewed."""

    def __init__(self, token: str) -> None:
        value = token.strip()
        if not value:
            raise ConfigError("NETSTREAM_TOKEN is empty; set a bearer token or use OAuth2 client credentials")
        self._token = Token(value, fresh=False)

    def get(self) -> Token:
        return self._token

    def invalidate(self, token: Token) -> None:
        del token
        raise AuthError(
            "Netstream rejected NETSTREAM_TOKEN (HTTP 401): the static token is invalid or expired; "
            "set a current NETSTREAM_TOKEN, or use NETSTREAM_CLIENT_ID, NETSTREAM_CLIENT_SECRET and "
            "NETSTREAM_TENANT_ID instead"
        )

    def __repr__(self) -> str:
        return f"StaticTokenProvider(token={_MASK!r})"


class ClientCredentialsProvider:
    """OAuth2 client-credentials grant (Entra ID), cached until shortly before it expires. Thread-safe.

    The token is refreshed ``refresh_margin`` seconds before ``expires_in`` runs out (the margin is capped at
    half the token's lifetime, so short-lived tokens are still reused). One refresh runs at a time; callers
    that wait for it get the new token from the cache.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str,
        *,
        session: requests.Session,
        timeout: tuple[float, float] = (10.0, 30.0),
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not client_id.strip():
            raise ConfigError("NETSTREAM_CLIENT_ID is empty; set it to the Application (client) ID")
        if not client_secret:
            raise ConfigError(
                "NETSTREAM_CLIENT_SECRET is empty; set it to the client secret of the registration"
            )
        self._token_url = token_url
        self._client_id = client_id.strip()
        self._secret = client_secret
        self._scope = scope
        self._session = session
        self._timeout = timeout
        self._refresh_margin = max(0.0, refresh_margin)
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: Token | None = None
        self._refresh_at = 0.0

    def get(self) -> Token:
        with self._lock:
            now = self._clock()
            if self._cached is not None and now < self._refresh_at:
                return self._cached
            value, lifetime = self._request_token()
            margin = min(self._refresh_margin, lifetime / 2.0)
            self._cached = Token(value, fresh=False)
            self._refresh_at = now + lifetime - margin
            log.info("token_refreshed", expires_in=lifetime, refresh_in=round(lifetime - margin, 3))
            return Token(value, fresh=True)

    def invalidate(self, token: Token) -> None:
        with self._lock:
            if self._cached is not None and self._cached.value == token.value:
                self._cached = None
                log.info("token_invalidated")

    def _request_token(self) -> tuple[str, float]:
        form = {
            "client_id": self._client_id,
            "client_secret": self._secret,
            "scope": self._scope,
            "grant_type": "client_credentials",
        }
        try:
            response = self._session.post(
                self._token_url,
                data=form,
                headers={"Accept": "application/json"},
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            log.warning("token_request_failed", reason=type(exc).__name__)
            raise NetstreamUnavailable(
                f"token endpoint {self._token_url} is unreachable ({type(exc).__name__}); it will be retried"
            ) from exc
        with response:
            status = response.status_code
            if status == 200:
                return self._read_token(response)
            log.warning("token_request_failed", status=status)
            if status == 429 or status >= 500:
                raise NetstreamUnavailable(
                    f"token endpoint answered HTTP {status}; it will be retried", status=status
                )
            reason = self._scrub(_oauth_error(response))
            if status in (400, 401):
                raise AuthError(
                    f"token endpoint refused the client credentials (HTTP {status}{reason}): "
                    f"{_CREDENTIALS_HINT}"
                )
            raise AuthError(
                f"token endpoint {self._token_url} answered HTTP {status}{reason}: "
                "check NETSTREAM_TOKEN_URL or NETSTREAM_TENANT_ID"
            )

    def _read_token(self, response: requests.Response) -> tuple[str, float]:
        try:
            doc: Any = response.json()
        except ValueError as exc:
            raise NetstreamUnavailable(
                "token endpoint returned a body that is not JSON; it will be retried"
            ) from exc
        value = doc.get("access_token") if isinstance(doc, dict) else None
        lifetime = _seconds(doc.get("expires_in")) if isinstance(doc, dict) else None
        if not isinstance(value, str) or not value or lifetime is None:
            raise NetstreamUnavailable(
                "token endpoint returned no usable access_token/expires_in; it will be retried"
            )
        return value, lifetime

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, _MASK) if self._secret else text

    def __repr__(self) -> str:
        return (
            f"ClientCredentialsProvider(token_url={self._token_url!r}, client_id={self._client_id!r}, "
            f"scope={self._scope!r}, client_secret={_MASK!r})"
        )


def _seconds(raw: object) -> float | None:
    """``expires_in`` as positive seconds; Entra sends an int, older endpoints a numeric string."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        seconds = float(raw)
    elif isinstance(raw, str):
        try:
            seconds = float(raw.strip())
        except ValueError:
            return None
    else:
        return None
    return seconds if 0 < seconds < 1e9 else None


def _oauth_error(response: requests.Response) -> str:
    """``: invalid_client (AADSTS...)`` from an OAuth2 error body, bounded; empty if there is none."""
    try:
        doc: Any = response.json()
    except ValueError:
        return ""
    if not isinstance(doc, dict):
        return ""
    code = doc.get("error")
    description = doc.get("error_description")
    parts = []
    if isinstance(code, str) and code:
        parts.append(code)
    if isinstance(description, str) and description:
        first = " ".join(description.split())[:200]
        parts.append(f"({first})")
    return ": " + " ".join(parts) if parts else ""
