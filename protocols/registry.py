"""The protocol files on disk: list them, load them, pick the latest published version."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from protocols.errors import ProtocolFileError, UnknownProtocol
from protocols.loader import LoadedProtocol, load_file

COUNTRIES_DIR = Path(__file__).parent / "countries"
SCENARIOS_DIR = Path(__file__).parent / "scenarios"


@dataclass(slots=True)
class Registry:
    """Every valid protocol file under a directory, and the files that failed to load."""

    loaded: list[LoadedProtocol] = field(default_factory=list)
    broken: list[ProtocolFileError] = field(default_factory=list)

    @classmethod
    def scan(cls, directory: Path = COUNTRIES_DIR) -> Registry:
        registry = cls()
        for path in sorted(directory.glob("*.yaml")):
            try:
                registry.loaded.append(load_file(path))
            except ProtocolFileError as exc:
                registry.broken.append(exc)
        return registry

    def ids(self) -> list[str]:
        return sorted({p.id for p in self.loaded})

    def latest_published(self, protocol_id: str) -> LoadedProtocol:
        """The newest published version of a protocol.

        Raises:
            UnknownProtocol: no file publishes that id.
        """
        published = [
            p for p in self.loaded if p.id == protocol_id and p.protocol.status == "published"
        ]
        if not published:
            known = ", ".join(self.ids()) or "none"
            raise UnknownProtocol(
                f"No published protocol '{protocol_id}'; published protocols: {known}."
            )
        return max(published, key=lambda p: _version_key(p.protocol.version))

    def latest(self, country: str, programme: str) -> LoadedProtocol | None:
        """The newest published protocol of a country's programme (for handoffs), if any."""
        ids = {
            p.id
            for p in self.loaded
            if p.protocol.country == country
            and p.protocol.programme == programme
            and p.protocol.status == "published"
        }
        return self.latest_published(sorted(ids)[0]) if ids else None


def _version_key(version: str) -> tuple[int | str, ...]:
    """Order "2026.1" < "2026.10" numerically, falling back to text for other parts."""
    return tuple(int(part) if part.isdigit() else part for part in version.split("."))


class WatchedRegistry:
    """The registry of a folder, scanned again when a file in it is added, changed or removed.

    Long-running processes (the worker, the console) see a newly published protocol version
    without a restart; a look costs a `stat` per file, and a scan parses only changed files
    (protocols/loader.py keeps what each content loaded to).
    """

    def __init__(self, directory: Path = COUNTRIES_DIR) -> None:
        self.directory = directory
        self._stamp: tuple[tuple[str, int, int], ...] | None = None
        self._registry = Registry()

    def current(self) -> Registry:
        stats = [(path.name, path.stat()) for path in sorted(self.directory.glob("*.yaml"))]
        stamp = tuple((name, st.st_mtime_ns, st.st_size) for name, st in stats)
        if stamp != self._stamp:
            self._registry, self._stamp = Registry.scan(self.directory), stamp
        return self._registry

    @property
    def loaded(self) -> list[LoadedProtocol]:
        return self.current().loaded

    @property
    def broken(self) -> list[ProtocolFileError]:
        return self.current().broken

    def ids(self) -> list[str]:
        return self.current().ids()

    def latest_published(self, protocol_id: str) -> LoadedProtocol:
        return self.current().latest_published(protocol_id)

    def latest(self, country: str, programme: str) -> LoadedProtocol | None:
        return self.current().latest(country, programme)
