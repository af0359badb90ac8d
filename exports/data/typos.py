"""Channels and subtopics the catalog has never seen: the typo check, and the closest names.

A channel typed by its name ("Greenhouse") or mistyped saves a request whose files stay empty.
The editor asks for a confirmation (as for a metric with no data yet), and the preview says
"no such channel", naming the closest channels or subtopics the reader may see.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from exports.data.access import ReadScope
from exports.data.catalog import channel_names, series
from exports.data.pickers import distinct_prefixes

MAX_SUGGESTIONS = 3


@dataclass(frozen=True)
class UnknownPlace:
    """``kind`` ("channel" or "subtopic") the catalog never saw: ``typed`` and what is near."""

    kind: str
    typed: str
    closest: list[str] = field(default_factory=list)  # as people read them

    @property
    def message(self) -> str:
        near = f" Did you mean {' or '.join(self.closest)}?" if self.closest else ""
        return f"No such {self.kind}: “{self.typed}” has no data.{near}"


def _closest(typed: str, candidates: dict[str, str]) -> list[str]:
    """Candidates (key → shown) nearest to ``typed``: containing it first, then similar."""
    needle = typed.casefold()
    keys = sorted(candidates)
    found = [key for key in keys if needle and needle in f"{key} {candidates[key]}".casefold()]
    by_text = {candidates[key].casefold(): key for key in keys} | {k.casefold(): k for k in keys}
    for text in difflib.get_close_matches(needle, list(by_text), n=MAX_SUGGESTIONS, cutoff=0.6):
        if by_text[text] not in found:
            found.append(by_text[text])
    if not found and len(keys) <= MAX_SUGGESTIONS:
        found = keys  # nothing alike, but so few that naming them all helps
    return [candidates[key] for key in found[:MAX_SUGGESTIONS]]


def unknown_place(channel: str, subtopic: str, *, scope: ReadScope) -> UnknownPlace | None:
    """What of ``channel``/``subtopic`` the catalog (as far as ``scope`` reads) never saw."""
    if not channel:
        return None
    readable = series(scope=scope)
    if not readable.filter(channel=channel).exists():
        ids = set(readable.values_list("channel", flat=True).distinct()[:2000])
        names = channel_names(ids)
        # Two channels of one name are told apart by as much of their ids as it takes.
        prefixes = distinct_prefixes([cid for cid in ids if cid in names])
        shown = {cid: f"{names[cid]} ({prefixes[cid]})" if cid in names else cid for cid in ids}
        return UnknownPlace("channel", channel, _closest(channel, shown))
    if subtopic and not readable.filter(channel=channel, subtopic=subtopic).exists():
        known = readable.filter(channel=channel).values_list("subtopic", flat=True).distinct()
        subtopics = {name: name for name in known[:2000]}
        return UnknownPlace("subtopic", subtopic, _closest(subtopic, subtopics))
    return None
