"""``registry import FILE`` and ``registry list``: load and show the usage point registry (DESIGN §5).

``import`` validates FILE completely first and only then replaces ``PUBLISHER_REGISTRY_FILE`` atomically
(write beside it, then rename), so a running service never reads a half-written or invalid registry; it
picks the new one up at its next cycle. ``list`` prints one JSON object per target with its shard.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from publisher.config import Settings
from publisher.errors import ConfigError
from publisher.registry import load_registry, shard_of


def register(commands: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``registry import`` and ``registry list`` to the command line."""
    parser = commands.add_parser("registry", help="load or show the usage point registry")
    actions = parser.add_subparsers(dest="registry_action", metavar="ACTION", required=True)
    importing = actions.add_parser("import", help="validate FILE and install it as PUBLISHER_REGISTRY_FILE")
    add_common(importing)
    importing.add_argument("file", type=Path, metavar="FILE", help="registry to import (YAML or CSV)")
    importing.set_defaults(handler=import_registry)
    listing = actions.add_parser("list", help="print the registry's targets as JSON lines, with their shard")
    add_common(listing)
    listing.set_defaults(handler=list_registry)


def _configured(settings: Settings) -> Path:
    if settings.publisher_registry_file is None:
        raise ConfigError("PUBLISHER_REGISTRY_FILE is not set; set it to the registry's path (YAML or CSV)")
    return settings.publisher_registry_file


def import_registry(settings: Settings, args: argparse.Namespace) -> int:
    """Validate ``args.file`` and replace the configured registry with it."""
    target = _configured(settings)
    source: Path = args.file
    if source.suffix.lower() == ".csv" and target.suffix.lower() != ".csv":
        raise ConfigError(f"{source} is CSV but PUBLISHER_REGISTRY_FILE {target} is not; import a YAML file")
    if source.suffix.lower() != ".csv" and target.suffix.lower() == ".csv":
        raise ConfigError(f"{source} is YAML but PUBLISHER_REGISTRY_FILE {target} is CSV; import a CSV file")
    registry = load_registry(source)  # the whole file is valid before anything is replaced
    data = source.read_bytes()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        Path(temporary).replace(target)
    except OSError as exc:
        raise ConfigError(f"cannot write registry {target}: {exc.strerror}; check its directory") from exc
    shards = Counter(shard_of(entry.mrid, settings.publisher_shard_count) for entry in registry)
    sys.stdout.write(
        json.dumps(
            {"imported": len(registry), "file": str(target), "per_shard": dict(sorted(shards.items()))}
        )
        + "\n"
    )
    return 0


def list_registry(settings: Settings, _args: argparse.Namespace) -> int:
    """Print every target of the configured registry as one JSON object per line."""
    registry = load_registry(_configured(settings))
    for entry in registry:
        record = {
            "mrid": entry.mrid,
            "kind": entry.target.kind.value,
            "shard": shard_of(entry.mrid, settings.publisher_shard_count),
            "meter": entry.meter_mrid,
            "timezone": entry.timezone,
            "reading_types": list(entry.reading_types),
        }
        sys.stdout.write(json.dumps(record) + "\n")
    return 0
