"""Rendering the placeholders of message titles and texts for a medium.

The placeholder language (``{name}`` from a fixed list, ``{{``/``}}`` for literal braces) and
its save-time check live in ``exports.requests.placeholders``. User text is never handed to
the template engine: a regular expression replaces known names with values from a fixed
dict, so nothing else (settings, objects, tags, filters) is reachable. Every piece — the
user's literal text as well as each value — is escaped for the medium, so the result is
inert markup whatever the user typed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from django.utils.safestring import SafeString, mark_safe

from exports.requests.placeholders import TOKEN


def render(
    template: str,
    values: Mapping[str, str],
    escape: Callable[[str], str],
    format_link: Callable[[str], str] | None = None,
) -> SafeString:
    """Replace placeholders in ``template`` with ``values``, escaping every piece.

    ``escape`` turns plain text into the medium's markup; ``format_link``, when
    given, renders the ``{link}`` value as a link of the medium. An unknown
    placeholder is kept literally (validation flags it when the request is saved).
    Returns the markup, marked safe for the layout template.
    """
    pieces: list[str] = []
    position = 0
    for match in TOKEN.finditer(template or ""):
        pieces.append(escape(template[position : match.start()]))
        name = match.group(1)
        if name is None:  # a doubled brace
            pieces.append(escape(match.group(0)[0]))
        elif name in values and name == "link" and format_link and values[name]:
            pieces.append(format_link(values[name]))
        elif name in values:
            pieces.append(escape(values[name]))
        else:
            pieces.append(escape(match.group(0)))
        position = match.end()
    pieces.append(escape((template or "")[position:]))
    return mark_safe("".join(pieces))
