"""Safe, unique names for the parts of a file: Excel sheets and zip members."""

from __future__ import annotations

import re

# Excel forbids []:*?/\ in sheet names; zip members must not carry path separators,
# and <>|" and control characters break Windows file names.
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\\x00-\x1f]+")
_FILE_FORBIDDEN = re.compile(r'[\[\]:*?/\\<>|"\x00-\x1f]+')

SHEET_NAME_LIMIT = 31
FILE_STEM_LIMIT = 120


def sheet_name(name: str) -> str:
    """``name`` as an Excel sheet name: allowed characters, not blank, not "History".

    The length limit is applied by ``UniqueNames`` so a suffix is never cut off.
    """
    cleaned = _SHEET_FORBIDDEN.sub("_", name).strip().strip("'")  # no apostrophe at the ends
    if not cleaned:
        return "data"
    if cleaned.casefold() == "history":  # reserved by Excel
        return f"{cleaned}_"
    return cleaned


def file_stem(name: str) -> str:
    """``name`` as a file name stem inside a zip: no separators, no dots or spaces at the ends."""
    return _FILE_FORBIDDEN.sub("_", name).strip(" ._") or "data"


class UniqueNames:
    """Hands out names that differ ignoring case, appending " (2)", " (3)", ... on clashes.

    Excel sheet names and most file systems compare names without case, so
    "Data" and "data" would collide there.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._taken: set[str] = set()

    def take(self, stem: str, suffix: str = "") -> str:
        """Return ``stem + suffix`` cut to the limit (the suffix kept whole), made unique."""
        counter = 1
        extra = ""
        while True:
            tail = f"{extra}{suffix}"
            candidate = stem[: max(1, self.limit - len(tail))].rstrip() + tail
            if candidate.casefold() not in self._taken:
                self._taken.add(candidate.casefold())
                return candidate
            counter += 1
            extra = f" ({counter})"
