"""The catalog's names of channels and publishers, as the ``channelName`` and
``publisherName`` columns and wide headers show them (the id where no name is set)."""

from __future__ import annotations

from collections.abc import Sequence

from exports.data.catalog import channel_names, publisher_names


class CatalogNames:
    """Channel and publisher id → name, each id looked up once per export.

    ``lookup=False`` answers every id with itself (no database), for callers without one.
    """

    def __init__(self, *, lookup: bool = True) -> None:
        self.lookup = lookup
        self._channels: dict[str, str] = {}
        self._publishers: dict[str | None, str] = {None: ""}

    def channel(self, identifier: str) -> str:
        name = self._channels.get(identifier)
        if name is None:
            found = channel_names([identifier]) if self.lookup else {}
            name = self._channels[identifier] = found.get(identifier) or identifier
        return name

    def publishers(self, identifiers: Sequence[str | None]) -> list[str]:
        """Each publisher's name, in order; a chunk's new ids are looked up in one query."""
        known = self._publishers
        missing = set(identifiers) - known.keys()
        if missing:
            found = publisher_names(missing) if self.lookup else {}
            for identifier in missing:
                known[identifier] = found.get(identifier) or identifier
        return list(map(known.__getitem__, identifiers))
