"""CPython's cyclic garbage collector, set for a service with a long-lived heap and short-lived readings.

Reference counting frees almost everything this service lets go of; the cyclic collector only looks for
garbage cycles. At its defaults it runs a young collection every 700 net container allocations and walks
older objects every 10th and 100th time. Parsing one response makes tens of thousands of objects that
live until its window is published, and the process keeps its start-up objects (settings, codecs,
topics, the restored state's indexes) for good, so the collector walks the same live objects again and
again and finds nothing. In the pipeline benchmark that was about a tenth of a reading's CPU
(docs/performance.md, "Garbage collector").

- :func:`configure_collector`, at process start (every command): a young collection every
  :data:`GEN0_THRESHOLD` allocations instead of 700. Acyclic garbage is still freed at once; cyclic
  garbage waits for at most that many allocations.
- :func:`freeze_heap`, once a service has started (state restored, before it is ready): collects, then
  moves every object still alive into the permanent generation (``gc.freeze``), which collections skip.
  Reference counting still frees those objects when they are let go; only a garbage cycle among them
  would be kept, and they are the process's own for its lifetime.
"""

from __future__ import annotations

import gc

import structlog

log = structlog.get_logger(__name__)

#: allocations between two young collections (CPython's default is 700)
GEN0_THRESHOLD = 50_000


def configure_collector() -> None:
    """Set the young generation's threshold to :data:`GEN0_THRESHOLD`; the older ones keep theirs."""
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, older, oldest)


def freeze_heap() -> int:
    """Collect garbage, then exempt every object alive from later collections; returns their number."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("heap_frozen", objects=frozen)
    return frozen
