"""The writers rendered ahead of time into :mod:`publisher.kafka.avro_generated` (``make writers``).

The Avro writers are generated from the schemas at run time. Those the pipeline builds for every event and
every state record are also rendered into a module, so the compiled build compiles them with the rest of
the hot path (docs/performance.md): everything built for the meter reading event's partial writer (its
varying fields, :data:`~publisher.pipeline.events.VARYING_FIELDS`, the runs of fixed fields between them,
the nested records) and the state topic's day record. ``python -m publisher.pipeline.writers`` prints the
module; a unit test checks that the checked-in one is current.
"""

from __future__ import annotations

import sys

from publisher.kafka.avro import load_schema
from publisher.kafka.avro_partial import partial_source
from publisher.kafka.avro_source import Source, recording, render_module
from publisher.kafka.avro_writer import compile_writer
from publisher.kafka.state_codec import day_record_schema
from publisher.pipeline.events import CANONICAL_FIELDS, VARYING_FIELDS

#: (schema file, varying fields, canonical fields) of each prebuilt partial writer
PARTIAL_WRITERS = (("meter_reading.avsc", VARYING_FIELDS, CANONICAL_FIELDS),)


def prebuilt_sources() -> list[Source]:
    """Every generated text the writers of :data:`PARTIAL_WRITERS` and the state day record build."""
    with recording() as built:
        for name, varying, canonical in PARTIAL_WRITERS:
            generated = partial_source(load_schema(name).parsed, varying, canonical=canonical)
            if generated is None:
                raise ValueError(f"{name} has no fast writer, so there is nothing to prebuild")
            built.append(generated[0])  # the partial writer itself (partial_source builds only its parts)
        if compile_writer(day_record_schema()) is None:
            raise ValueError("the state day record has no fast writer, so there is nothing to prebuild")
    return built


def render() -> str:
    """The text of :mod:`publisher.kafka.avro_generated`."""
    return render_module(prebuilt_sources())


if __name__ == "__main__":
    sys.stdout.write(render())
