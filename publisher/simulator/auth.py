"""The simulator's OAuth2 token endpoint (Entra ID client credentials) and bearer token checks.

Tokens are opaque random strings that expire by the simulator's clock. Entra-like errors: 401
``invalid_client`` for wrong credentials, 400 ``unsupported_grant_type`` / ``invalid_request`` otherwise.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from publisher.simulator.clock import SimClock
from publisher.simulator.config import SimulatorConfig
from publisher.simulator.query import trace_id


@dataclass(frozen=True)
class TokenAnswer:
    """What the token endpoint says: status and JSON document."""

    status: int
    document: dict[str, Any]


def _error(status: int, error: str, code: int, description: str) -> TokenAnswer:
    return TokenAnswer(
        status,
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description}",
            "error_codes": [code],
            "trace_id": trace_id()[3:39],
            "correlation_id": trace_id()[3:39],
        },
    )


def bearer_of(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


class TokenIssuer:
    """Issues and checks bearer tokens for one simulator (thread-safe)."""

    def __init__(self, config: SimulatorConfig, clock: SimClock, tenant: str) -> None:
        self._config = config
        self._clock = clock
        self._tenant = tenant
        self._lock = threading.Lock()
        self._expiry: dict[str, datetime] = {}

    @property
    def issued(self) -> int:
        """How many issued tokens are currently known (valid or expired, not revoked)."""
        with self._lock:
            return len(self._expiry)

    def token_endpoint(self, tenant: str, body: bytes) -> TokenAnswer:
        """Answer a client-credentials token request for ``tenant`` with form ``body``."""
        if tenant != self._tenant:
            return _error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        form = {key: values[0] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "client_credentials":
            return _error(
                400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
            )
        client_id = form.get("client_id", "")
        secret = form.get("client_secret", "")
        if not hmac.compare_digest(client_id.encode(), self._config.client_id.encode()):
            return _error(
                401, "invalid_client", 700016, f"Application with identifier '{client_id}' not found."
            )
        if not hmac.compare_digest(secret.encode(), self._config.client_secret.encode()):
            return _error(401, "invalid_client", 7000215, "Invalid client secret provided.")
        if not form.get("scope"):
            return _error(
                400, "invalid_request", 900144, "The request body must contain the parameter: 'scope'."
            )
        token = secrets.token_urlsafe(32)
        lifetime = self._config.token_lifetime
        with self._lock:
            self._expiry[token] = self._clock.now() + timedelta(seconds=lifetime)
        return TokenAnswer(
            200,
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": token,
            },
        )

    def accepts(self, authorization: str | None) -> bool:
        """True if the ``Authorization`` header carries a valid, unexpired, unrevoked token."""
        token = bearer_of(authorization)
        if token is None:
            return False
        static = self._config.static_token
        if static is not None and hmac.compare_digest(token.encode(), static.encode()):
            return True
        with self._lock:
            expiry = self._expiry.get(token)
        return expiry is not None and self._clock.now() < expiry

    def revoke_all(self) -> None:
        """Every token issued so far is rejected from now on (a static token stays valid)."""
        with self._lock:
            self._expiry.clear()
