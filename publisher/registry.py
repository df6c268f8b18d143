"""The registry of polling targets (DESIGN §5): usage points, usage point groups, meters and meter groups.

A YAML file with the four sections, or a CSV with the same column names (``mrid``, ``reading_types``
separated by spaces or semicolons, ``meter_mrid``, ``timezone``) plus an optional ``kind`` column. Every
entry is a target; targets shard by their mRID with Kafka's murmur2, so a shard polls only its own.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
import yaml

from publisher.errors import ConfigError
from publisher.kafka.murmur2 import partition_for
from publisher.netstream.model import Target, TargetKind

log = structlog.get_logger(__name__)

SECTIONS: Mapping[str, TargetKind] = {
    "usage_points": TargetKind.USAGE_POINT,
    "usage_point_groups": TargetKind.USAGE_POINT_GROUP,
    "meters": TargetKind.METER,
    "meter_groups": TargetKind.METER_GROUP,
}
_KEYS = {"mrid", "reading_types", "meter_mrid", "timezone", "kind"}


@dataclass(frozen=True, slots=True)
class Entry:
    """One polling target and its options."""

    target: Target
    reading_types: tuple[str, ...] = ()
    meter_mrid: str | None = None
    timezone: str | None = None

    @property
    def mrid(self) -> str:
        """The target's mRID."""
        return self.target.mrid


def shard_of(mrid: str, shard_count: int) -> int:
    """The shard that polls ``mrid``: ``murmur2(mRID) mod shard count`` (positive hash, as Kafka's)."""
    return partition_for(mrid, shard_count)


@dataclass(frozen=True)
class Registry:
    """All targets, in file order, without duplicates."""

    entries: tuple[Entry, ...]

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def for_shard(self, shard_index: int, shard_count: int) -> Registry:
        """The targets this shard polls."""
        return Registry(tuple(e for e in self.entries if shard_of(e.mrid, shard_count) == shard_index))

    @cached_property
    def _zones(self) -> dict[str, ZoneInfo]:
        return {e.mrid: ZoneInfo(e.timezone) for e in self.entries if e.timezone}

    @cached_property
    def _meters(self) -> dict[str, str]:
        return {e.mrid: e.meter_mrid for e in self.entries if e.meter_mrid}

    def zone_of(self, usage_point: str) -> ZoneInfo | None:
        """The configured zone of a usage point, if its entry names one (a dict look-up per reading)."""
        return self._zones.get(usage_point)

    def meter_of(self, usage_point: str) -> str | None:
        """The configured meter of a usage point, if its entry names one."""
        return self._meters.get(usage_point)


def _scalar(raw: Mapping[Any, Any], key: str, where: str) -> str | None:
    """``raw[key]`` as stripped one-line text (None when absent or empty); never a list or a mapping,
    whose text could be enormous (YAML aliases nest them exponentially)."""
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, Mapping | list | tuple | set):
        raise ConfigError(f"{where}: '{key}' must be a single value, not a {type(value).__name__}")
    text = str(value).strip()
    if not text.isprintable():
        raise ConfigError(
            f"{where}: '{key}' holds a control character (a line break or NUL); fix the quoting"
        )
    return text or None


def _entry(raw: Any, kind: TargetKind, where: str) -> Entry:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: an entry must be a mapping with at least 'mrid'")
    unknown = set(raw) - _KEYS
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {sorted(map(str, unknown))}; allowed: mrid, reading_types, meter_mrid, "
            "timezone"
        )
    mrid = _scalar(raw, "mrid", where)
    if not mrid:
        raise ConfigError(f"{where}: 'mrid' is required")
    types = raw.get("reading_types") or ()
    if isinstance(types, str):
        types = types.replace(";", " ").split()
    if not isinstance(types, list | tuple) or not all(isinstance(t, str) for t in types):
        raise ConfigError(f"{where}: 'reading_types' must be a list of reading type codes")
    for code in types:
        parts = code.split(".")
        if len(parts) != 18 or not all(p.lstrip("-").isdigit() for p in parts):
            raise ConfigError(f"{where}: {code!r} is not an 18-field reading type code like 0.0.5.4.1.1.12.…")
    zone = _scalar(raw, "timezone", where)
    if zone is not None:
        try:
            ZoneInfo(str(zone))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"{where}: {zone!r} is not an IANA time zone; use e.g. Australia/Sydney"
            ) from exc
    meter = _scalar(raw, "meter_mrid", where)
    return Entry(Target(kind, mrid), tuple(types), str(meter) if meter else None, str(zone) if zone else None)


def _from_yaml(text: str, source: str) -> list[Entry]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"registry {source} is not valid YAML; fix the syntax") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"registry {source} must be a mapping with usage_points (and optional groups)")
    unknown = set(data) - set(SECTIONS)
    if unknown:
        raise ConfigError(
            f"registry {source}: unknown section(s) {sorted(map(str, unknown))}; "
            f"allowed: {', '.join(SECTIONS)}"
        )
    entries: list[Entry] = []
    for section, kind in SECTIONS.items():
        items = data.get(section) or []
        if not isinstance(items, list):
            raise ConfigError(f"registry {source}: {section} must be a list")
        entries.extend(_entry(raw, kind, f"registry {source} {section}[{i}]") for i, raw in enumerate(items))
    return entries


def _from_csv(text: str, source: str) -> list[Entry]:
    try:
        return _csv_entries(csv.DictReader(io.StringIO(text, newline="")), source)
    except csv.Error as exc:
        raise ConfigError(f"registry {source} is not valid CSV ({exc}); fix the quoting") from exc


def _csv_entries(reader: csv.DictReader[str], source: str) -> list[Entry]:
    if reader.fieldnames is None or "mrid" not in reader.fieldnames:
        raise ConfigError(f"registry {source}: a CSV registry needs a header row with an 'mrid' column")
    entries = []
    for line, row in enumerate(reader, start=2):
        raw = {key: value for key, value in row.items() if key is not None and value not in (None, "")}
        kind_name = raw.pop("kind", "usage_point")
        try:
            kind = TargetKind(kind_name)
        except ValueError as exc:
            kinds = ", ".join(k.value for k in TargetKind)
            raise ConfigError(
                f"registry {source} line {line}: kind {kind_name!r} is not one of {kinds}"
            ) from exc
        entries.append(_entry(raw, kind, f"registry {source} line {line}"))
    return entries


def _unique(entries: Iterable[Entry], source: str) -> tuple[Entry, ...]:
    seen: set[tuple[TargetKind, str]] = set()
    for entry in entries:
        key = (entry.target.kind, entry.mrid)
        if key in seen:
            raise ConfigError(f"registry {source}: {entry.target.kind.value} {entry.mrid} is listed twice")
        seen.add(key)
    return tuple(entries)


def parse_registry(text: str, source: str) -> Registry:
    """Parse registry text; CSV when ``source`` ends in ``.csv``, else YAML."""
    entries = _from_csv(text, source) if source.lower().endswith(".csv") else _from_yaml(text, source)
    return Registry(_unique(entries, source))


def load_registry(path: Path) -> Registry:
    """Read and validate a registry file; one-line :class:`ConfigError` on any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read registry {path}: {exc.strerror}; check PUBLISHER_REGISTRY_FILE"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"registry {path} is not UTF-8 (bad byte at offset {exc.start}); save it as UTF-8"
        ) from exc
    return parse_registry(text, str(path))


class LiveRegistry:
    """This shard's registry, reloaded when its file changes; additions and removals apply at the next cycle.

    A file that no longer loads (invalid while being edited, for example) keeps the previous registry in
    force and logs ``registry_reload_failed``.
    """

    def __init__(self, path: Path, shard_index: int, shard_count: int) -> None:
        self._path = path
        self._shard = (shard_index, shard_count)
        self._stamp = self._file_stamp()
        self.current = load_registry(path).for_shard(*self._shard)

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self._path.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def reload_if_changed(self) -> bool:
        """Reload if the file changed since the last load; True if the registry was replaced."""
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            fresh = load_registry(self._path).for_shard(*self._shard)
        except ConfigError as exc:
            log.warning("registry_reload_failed", path=str(self._path), error=exc.message)
            return False
        before = {e.target for e in self.current}
        after = {e.target for e in fresh}
        self.current = fresh
        log.info(
            "registry_reloaded", targets=len(fresh), added=len(after - before), removed=len(before - after)
        )
        return True

    def zone_of(self, usage_point: str) -> ZoneInfo | None:
        """The current registry's zone for a usage point."""
        return self.current.zone_of(usage_point)

    def meter_of(self, usage_point: str) -> str | None:
        """The current registry's meter for a usage point."""
        return self.current.meter_of(usage_point)
