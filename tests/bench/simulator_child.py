"""The simulator for the scaling benchmark, in a process of its own (its CPU and memory are not measured).

``python -m bench.simulator_child --points N``: serves ``N`` usage points (see :func:`bench.workload.
simulator_config`) on a free loopback port with its clock at :data:`bench.workload.NOW`, prints its base URL
on one line, then serves until stdin closes (the parent's end of the pipe).
"""

from __future__ import annotations

import argparse
import sys

from bench.workload import NOW, quiet_logs, simulator_config
from publisher.simulator.clock import SimClock
from publisher.simulator.server import SimulatorServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, required=True)
    args = parser.parse_args()
    quiet_logs()
    server = SimulatorServer(simulator_config(args.points), clock=SimClock(NOW))
    server.start()
    sys.stdout.write(server.base_url + "\n")
    sys.stdout.flush()
    try:
        sys.stdin.read()  # returns when the parent closes the pipe or exits
    finally:
        server.stop()


if __name__ == "__main__":
    main()
