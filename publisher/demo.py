"""``make run``: the whole thing on one machine, with nothing installed beyond Python.

With no ``KAFKA_BOOTSTRAP_SERVERS`` it starts the embedded broker; with no ``NETSTREAM_BASE_URL`` it starts
the simulator (a few dozen usage points, real time, revisions and late data within minutes). Then it runs
``netstream-publisher run`` with fast plans, serving health and metrics on port 8080, and prints a live
summary read from ``/metrics``. Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from publisher.embedded import EmbeddedBroker
from publisher.errors import PublisherError
from publisher.logsetup import configure_logging
from publisher.signals import StopSignals
from publisher.simulator.clock import SimClock
from publisher.simulator.config import SimulatorConfig
from publisher.simulator.server import SimulatorServer

DEMO_TOKEN = "demo-token"  # noqa: S105 - the simulator's demo credential, not a secret
SUMMARY_EVERY = 5.0

CONFIG = """\
netstream:
  rate_limit: 20
publisher:
  topic_partitions: 6
  state_partitions: 6
  replication_factor: 1
  plans:
    - name: live
      interval: 20
      lookback: PT6H
      reading_types: [{types}]
    - name: daily
      cron: "0 3 * * *"
      lookback: P14D
      reading_types: [{types}]
"""


def _registry(config: SimulatorConfig) -> str:
    lines = ["usage_points:"]
    for point in config.usage_points:
        lines += [f"  - mrid: {point.mrid}", f"    timezone: {point.timezone}"]
    return "\n".join(lines) + "\n"


def _summary(port: int) -> str | None:
    try:
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except requests.RequestException:
        return None
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_total"):
                totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    prefix = "netstream_publisher_"
    fields = ("cycles", "events_published", "events_revised", "events_suppressed", "events_dead_lettered")
    parts = [f"{name}={int(totals.get(f'{prefix}{name}_total', 0))}" for name in fields]
    return "  ".join(parts)


def _backends(stack: ExitStack, env: dict[str, str], workdir: Path) -> None:
    """Start the embedded broker and the simulator unless the environment points elsewhere."""
    if not env.get("KAFKA_BOOTSTRAP_SERVERS"):
        broker = EmbeddedBroker()
        broker.start()
        stack.callback(broker.stop)
        env["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
        print(f"embedded Kafka broker    {broker.bootstrap_servers}")
    else:
        print(f"Kafka                    {env['KAFKA_BOOTSTRAP_SERVERS']}")
    simulated = SimulatorConfig.demo(count=30)
    types = ", ".join(sorted({t for p in simulated.usage_points for t in p.reading_types}))
    if not env.get("NETSTREAM_BASE_URL"):
        simulated = replace(
            simulated,
            static_token=DEMO_TOKEN,
            max_late=timedelta(minutes=10),
            revision_after=timedelta(minutes=3),
        )
        server = SimulatorServer(simulated, clock=SimClock.system())
        server.start()
        stack.callback(server.stop)
        env["NETSTREAM_BASE_URL"] = server.base_url
        env.setdefault("NETSTREAM_TOKEN", DEMO_TOKEN)
        print(f"Netstream simulator      {server.base_url} ({len(simulated.usage_points)} usage points)")
        (workdir / "registry.yaml").write_text(_registry(simulated), encoding="utf-8")
        env.setdefault("PUBLISHER_REGISTRY_FILE", str(workdir / "registry.yaml"))
    else:
        print(f"Netstream                {env['NETSTREAM_BASE_URL']}")
    (workdir / "config.yaml").write_text(CONFIG.format(types=types), encoding="utf-8")
    env.setdefault("PUBLISHER_LOG_FORMAT", "json")
    env.setdefault("PUBLISHER_LOG_LEVEL", "warning")


def _supervise(service: subprocess.Popen[bytes], stop: threading.Event, port: int) -> int:
    """Print a summary line every few seconds until stopped; then stop the service gracefully."""
    while not stop.wait(SUMMARY_EVERY):
        if service.poll() is not None:
            sys.stderr.write(f"netstream-publisher run exited with code {service.returncode}\n")
            return service.returncode or 1
        summary = _summary(port)
        if summary is not None:
            print(time.strftime("%H:%M:%S"), summary, flush=True)
    service.send_signal(signal.SIGTERM)
    try:
        code = service.wait(timeout=90)
    except subprocess.TimeoutExpired:
        service.kill()
        code = service.wait()
        sys.stderr.write("netstream-publisher run did not stop within 90 s; it was killed\n")
    print(f"\npublisher stopped (exit code {code}); stopping the simulator and the broker")
    return code


def main() -> int:
    """Run the demo until interrupted."""
    stop = threading.Event()

    StopSignals(stop).install()
    env = dict(os.environ)
    configure_logging(level="warning", fmt="console")  # the terminal shows the summary, not request logs
    port = int(env.get("PUBLISHER_HTTP_PORT", "8080"))
    with ExitStack() as stack:
        try:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="netstream-demo-")))
            _backends(stack, env, workdir)
            print(f"health and metrics       http://127.0.0.1:{port}/metrics  /healthz  /readyz")
            print("press Ctrl-C to stop\n")
            sys.stdout.flush()
            service = subprocess.Popen(  # noqa: S603 - our own command line
                [sys.executable, "-m", "publisher", "run", "--config", str(workdir / "config.yaml")],
                env=env,  # same process group: Ctrl-C reaches it and it stops gracefully on SIGINT too
            )
        except PublisherError as exc:
            sys.stderr.write(f"netstream-publisher demo: error: {exc.message}\n")
            return exc.exit_code
        return _supervise(service, stop, port)


if __name__ == "__main__":
    raise SystemExit(main())
