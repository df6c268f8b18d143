"""netstream-publisher: Netstream (SBS) smart-meter readings to Kafka as Avro events, exactly once."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("netstream-publisher")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without installing
    __version__ = "0.0.0"
