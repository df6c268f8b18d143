"""The optional compiled build: which modules it compiles, and whether this process runs them compiled.

The per-reading path (parse, dedup, event ids, encoding, produce) is plain typed Python. Built with
``PUBLISHER_COMPILE=1`` (the container image does), ``setup.py`` compiles the modules below to C extensions
with mypyc; their ``.py`` sources stay beside them, so a build without a compiler, or any other
installation, runs the same code interpreted. Behaviour is the same either way (``make test`` runs the
unit tests against both); only the speed differs (docs/performance.md).

This module is read by ``setup.py`` before the package is installed, so it imports nothing of the package.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util

#: the modules the compiled build compiles: everything a reading passes through between the response
#: bytes and the producer, and the state store's encoding
COMPILED_MODULES: tuple[str, ...] = (
    "publisher.kafka.avro_generated",
    "publisher.kafka.avro_partial",
    "publisher.kafka.murmur2",
    "publisher.kafka.producer",
    "publisher.kafka.state_blocks",
    "publisher.kafka.state_codec",
    "publisher.netstream.localtime",
    "publisher.netstream.parse_common",
    "publisher.netstream.parse_extract",
    "publisher.netstream.parse_ids",
    "publisher.netstream.parse_json",
    "publisher.netstream.parse_quality",
    "publisher.netstream.parse_time",
    "publisher.netstream.parse_values",
    "publisher.netstream.quality",
    "publisher.pipeline.decision",
    "publisher.pipeline.events",
    "publisher.pipeline.locate",
    "publisher.pipeline.publishing",
    "publisher.pipeline.series_store",
    "publisher.pipeline.shard",
)


def compiled_modules() -> dict[str, bool]:
    """Each module of :data:`COMPILED_MODULES` -> whether it loads from a compiled extension here."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    found: dict[str, bool] = {}
    for name in COMPILED_MODULES:
        spec = importlib.util.find_spec(name)
        found[name] = bool(spec is not None and spec.origin and spec.origin.endswith(suffixes))
    return found


def build_kind() -> str:
    """``compiled`` when every module of the compiled build is compiled, ``interpreted`` when none is,
    ``mixed`` otherwise (a compiled tree with a module left out: worth a look)."""
    flags = compiled_modules().values()
    if all(flags):
        return "compiled"
    if not any(flags):
        return "interpreted"
    return "mixed"
