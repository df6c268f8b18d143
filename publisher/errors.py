"""The one exception tree of netstream-publisher.

Every error the package raises derives from :class:`PublisherError`. The first level says what the
caller must do; the leaves say what happened. Third-party errors are wrapped at the boundary with
``raise ... from`` so the cause stays attached for debugging while callers only match on this tree::

    PublisherError                      root; carries a one-line, user-facing message
    ├── RetryableError                  transient: back off and try the same work again
    │   ├── NetstreamUnavailable        429, 5xx, timeouts, dropped connections
    │   ├── ResponseTooLarge            the API gave up on the window; retry with a smaller one
    │   └── TransactionAbortable        Kafka transaction must be aborted; redo the batch from state
    ├── SkippableError                  this item is bad: record it (DLQ) and carry on with the rest
    │   └── ParseError                  a response or fragment could not be understood
    ├── FatalError                      stop: retrying cannot help; exit non-zero
    │   ├── ConfigError                 invalid or missing configuration (exit 2)
    │   ├── AuthError                   401 on a fresh token, 403, token endpoint refusal (exit 3)
    │   ├── NetstreamRequestError       other 4xx: the request itself is wrong (exit 5)
    │   ├── KafkaFatalError             fenced producer, fatal librdkafka error, topic mismatch (exit 4)
    │   └── BrokerStartError            the embedded broker is missing or would not start (exit 6)
    └── ShutdownRequested               a signal asked us to stop; finish cleanly and exit 0

The command line maps each class to one line on stderr and the exit code in :attr:`exit_code`; it
never prints a traceback for these.
"""

from __future__ import annotations

from typing import ClassVar


class PublisherError(Exception):
    """Root of every error raised by netstream-publisher."""

    exit_code: ClassVar[int] = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


# --------------------------------------------------------------------------- retry


class RetryableError(PublisherError):
    """Transient failure: the same work may succeed if tried again after a back-off."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        #: seconds the server asked us to wait (``Retry-After``), if it said
        self.retry_after = retry_after


class NetstreamUnavailable(RetryableError):
    """Netstream answered 429 or 5xx, timed out, or the connection dropped."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status = status


class ResponseTooLarge(RetryableError):
    """The response for a window timed out or exceeded the size limit; split the window and retry."""


class TransactionAbortable(RetryableError):
    """The open Kafka transaction must be aborted; the batch is redone from the last committed state."""


# --------------------------------------------------------------------------- skip


class SkippableError(PublisherError):
    """This item cannot be processed; record it (dead-letter) and continue with the rest."""


class ParseError(SkippableError):
    """A response or a fragment of one could not be understood."""

    def __init__(self, message: str, *, fragment: str = "") -> None:
        super().__init__(message)
        #: the raw text (or a bounded excerpt) that failed to parse, for the dead-letter record
        self.fragment = fragment


# --------------------------------------------------------------------------- fatal


class FatalError(PublisherError):
    """Retrying cannot help; the process must stop with a non-zero exit code."""


class ConfigError(FatalError):
    """Invalid or missing configuration. The message names the key and the fix."""

    exit_code = 2


class AuthError(FatalError):
    """Authentication or authorisation failed in a way a retry cannot fix."""

    exit_code = 3


class KafkaFatalError(FatalError):
    """A Kafka error that ends this process: fenced, fatal producer error, incompatible topic."""

    exit_code = 4


class NetstreamRequestError(FatalError):
    """Netstream rejected the request (4xx other than 401/403/429); the body's details are included."""

    exit_code = 5

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class BrokerStartError(FatalError):
    """The embedded broker binary is missing or did not become ready."""

    exit_code = 6


# --------------------------------------------------------------------------- exit


class ShutdownRequested(PublisherError):
    """A signal asked the process to stop; the current work is finished or aborted, then exit 0."""

    exit_code = 0
