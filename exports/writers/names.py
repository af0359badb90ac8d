"""Unique, safe names for sheets, sections and zip members."""

import re

_FORBIDDEN = re.compile(r'[\[\]:*?/\\<>|"\x00-\x1f]+')


def clean_name(name: str, limit: int) -> str:
    cleaned = _FORBIDDEN.sub("_", name or "").strip(" '._")
    return (cleaned or "data")[:limit]


def unique_names(names: list[str], limit: int) -> list[str]:
    """Cleaned names, made unique case-insensitively by appending " (2)", " (3)", ..."""
    seen: set[str] = set()
    result = []
    for name in names:
        base = clean_name(name, limit)
        candidate, counter = base, 1
        while candidate.lower() in seen:
            counter += 1
            suffix = f" ({counter})"
            candidate = base[: limit - len(suffix)] + suffix
        seen.add(candidate.lower())
        result.append(candidate)
    return result
