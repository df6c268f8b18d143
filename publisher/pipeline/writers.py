"""The writers rendered ahead of time into :mod:`publisher.kafka.avro_generated` (``make writers``).

Every published reading goes through one generated writer: the varying fields of a meter reading event
(:data:`~publisher.pipeline.events.VARYING_FIELDS`). Rendered into a module, it is compiled with the rest
of the hot path by the compiled build (docs/performance.md). ``python -m publisher.pipeline.writers``
prints the module; a unit test checks that the checked-in one is current.
"""

from __future__ import annotations

import sys

from publisher.kafka.avro import load_schema
from publisher.kafka.avro_partial import partial_source
from publisher.kafka.avro_source import Source, render_module
from publisher.pipeline.events import CANONICAL_FIELDS, VARYING_FIELDS

#: (schema file, varying fields, canonical fields) of each prebuilt partial writer
PREBUILT = (("meter_reading.avsc", VARYING_FIELDS, CANONICAL_FIELDS),)


def prebuilt_sources() -> list[tuple[str, Source]]:
    """The generated text of each writer of :data:`PREBUILT`, with what it writes."""
    sources = []
    for name, varying, canonical in PREBUILT:
        generated = partial_source(load_schema(name).parsed, varying, canonical=canonical)
        if generated is None:
            raise ValueError(f"{name} has no fast writer, so there is nothing to prebuild")
        sources.append((f"{name}: its {len(varying)} varying fields", generated[0]))
    return sources


def render() -> str:
    """The text of :mod:`publisher.kafka.avro_generated`."""
    return render_module(prebuilt_sources())


if __name__ == "__main__":
    sys.stdout.write(render())
