"""``make run``: the whole thing on one machine, with nothing installed beyond Python.

With no ``KAFKA_BOOTSTRAP_SERVERS`` it starts the embedded broker on a free loopback port and says where it
listens; Ctrl-C (or SIGTERM) stops everything cleanly.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType

from publisher.embedded import EmbeddedBroker
from publisher.errors import PublisherError


def main() -> int:
    """Run the demo until interrupted."""
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    broker: EmbeddedBroker | None = None
    try:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            broker = EmbeddedBroker()
            broker.start()
            bootstrap = broker.bootstrap_servers
            print(f"embedded Kafka broker listening on {bootstrap} (pid {broker.pid})")
        else:
            print(f"using Kafka at {bootstrap}")
        print("press Ctrl-C to stop")
        sys.stdout.flush()
        stop.wait()
    except PublisherError as exc:
        sys.stderr.write(f"netstream-publisher demo: error: {exc.message}\n")
        return exc.exit_code
    finally:
        if broker is not None:
            broker.stop()
            print("embedded broker stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
