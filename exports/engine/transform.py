"""Transforms applied to a point stream after decimation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from exports.engine.numbers import settled_delta
from exports.engine.reading import Point
from exports.requests.vocabulary import Transform

_MISSING = object()


def is_number(value: object) -> bool:
    """True for ints and floats, not for bools (a bool is an int in Python, not a measure)."""
    return type(value) in (int, float)


def delta(points: Iterable[Point]) -> Iterator[Point]:
    """Each point's difference to the previous point of the same series (target, publisher).

    The first point of a series has no previous one and is not written. Text, boolean and data
    values are not numbers: they are dropped. A null value (a message with no value at all, or
    the stddev of a one-point bucket) yields a null delta, and so does the point after it.
    Differences are settled (``numbers``): 20.191 after 20.0 gives 0.191.
    """
    previous: dict[tuple[int, str], float | None] = {}
    for point in points:
        time, target, publisher, value, unit, created = point  # a plain tuple or a Point
        if value is not None and not is_number(value):
            continue
        key = (target, publisher)
        before = previous.get(key, _MISSING)
        previous[key] = value
        if before is _MISSING:
            continue
        change = None if value is None or before is None else settled_delta(value, before)
        yield Point(time, target, publisher, change, unit, created)


TRANSFORMS = {Transform.DELTA: delta}


def apply_transform(name: str, points: Iterable[Point]) -> Iterable[Point]:
    """Apply the transform called ``name`` (empty: none); raise ``ValueError`` if unknown."""
    if not name:
        return points
    transform = TRANSFORMS.get(name)
    if transform is None:
        raise ValueError(f"unknown transform {name!r}")
    return transform(points)
