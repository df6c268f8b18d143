"""The embedded Kafka-protocol broker (noida-db) for ``make run`` and the integration tests.

The broker binary ships inside the ``noida-db`` wheel (the ``embedded`` extra). We start the binary
itself (not its console script, which would leave the broker running when killed) on a free loopback port
with its own data directory, wait until a Kafka metadata request succeeds, and stop it with SIGTERM by pid.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import structlog
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from publisher.errors import BrokerStartError

log = structlog.get_logger(__name__)

_READY_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0


def broker_binary() -> Path:
    """Path of the noida-db binary inside its wheel, or a clear error if the extra is not installed."""
    try:
        resource = importlib.resources.files("noida_db") / "noida-db"
    except ModuleNotFoundError as exc:
        raise BrokerStartError(
            "the embedded broker needs noida-db: pip install 'netstream-publisher[embedded]' "
            "or set KAFKA_BOOTSTRAP_SERVERS to an existing cluster"
        ) from exc
    path = Path(str(resource))
    if not path.is_file():
        raise BrokerStartError(
            f"noida-db is installed but its broker binary is missing at {path}; reinstall it"
        )
    return path


def free_port() -> int:
    """A TCP port on the loopback interface that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def metadata_ready(bootstrap: str, timeout: float = 2.0) -> bool:
    """True when the broker answers a Kafka metadata request (an open port is not enough)."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException:
        return False
    return bool(metadata.brokers)


class EmbeddedBroker:
    """A single-node Kafka-protocol broker in a child process, for demos and tests."""

    def __init__(self, *, port: int | None = None, data_dir: Path | None = None) -> None:
        self._requested_port = port
        self._given_data_dir = data_dir
        self._owned_dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` to give clients as ``bootstrap.servers``."""
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """Process id of the running broker."""
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = _READY_TIMEOUT) -> None:
        """Start the broker and return once it answers metadata requests."""
        binary = broker_binary()
        if self._given_data_dir is not None:
            data_dir = self._given_data_dir
            data_dir.mkdir(parents=True, exist_ok=True)
        else:
            self._owned_dir = Path(tempfile.mkdtemp(prefix="netstream-broker-"))
            data_dir = self._owned_dir
        self.port = self._requested_port or free_port()
        log_path = data_dir / "broker.log"
        with log_path.open("ab") as log_file:
            self._process = subprocess.Popen(  # noqa: S603 - fixed binary from the installed wheel, no shell
                [
                    str(binary),
                    "start",
                    "--only",
                    "kafka",
                    "--kafka-port",
                    str(self.port),
                    "--data-dir",
                    str(data_dir),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal must not stop it before its clients
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                tail = _tail(log_path)
                self._process = None
                raise BrokerStartError(
                    f"the embedded broker exited during start-up (port {self.port}): {tail}"
                )
            if metadata_ready(self.bootstrap_servers, timeout=1.0):
                log.info("broker_started", bootstrap_servers=self.bootstrap_servers, pid=self._process.pid)
                return
            time.sleep(0.1)
        self.stop()
        raise BrokerStartError(
            f"the embedded broker did not answer metadata requests within {timeout:.0f}s on port {self.port}"
        )

    def stop(self, timeout: float = _STOP_TIMEOUT) -> None:
        """SIGTERM the broker by pid and wait; SIGKILL only if it ignores that."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout)
            log.info("broker_stopped", pid=process.pid)
        if self._owned_dir is not None:
            shutil.rmtree(self._owned_dir, ignore_errors=True)
            self._owned_dir = None

    def pause(self) -> None:
        """SIGSTOP the broker (outage tests: the publisher sees a broker that does not answer)."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT a paused broker."""
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _tail(path: Path, lines: int = 3) -> str:
    with contextlib.suppress(OSError):
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        useful = [line for line in text if "GLIBC" not in line]
        return " | ".join(useful[-lines:]) or "no output"
    return "no output"
