"""Computed numbers without binary noise (issue 9 §2).

Stored values are written exactly as stored: Python's ``repr`` of a float is the shortest text
that reads back to the same float, so ``12345678.123`` stays ``12345678.123``.

Computed values (avg, sum, stddev, variance, delta) are rounded to the digits that binary
arithmetic on their inputs can vouch for, and no further:

- the error of the computation is estimated as ``E = 4 · √n · scale · ε`` (ε = 2⁻⁵², n the
  number of inputs): every input carries up to half an ulp of its own magnitude from its
  decimal form, and rounding errors of a sum grow like √n (pairwise and compensated sums
  in the databases, and random signs). ``scale`` is what the error is proportional to:
  the largest input magnitude ``M`` for a mean, a standard deviation or a delta, ``n · M``
  for a sum, ``2σ · E_stddev`` for a variance (the error of a square);
- the value is rounded to the decimal place of the first power of ten at or above ``E``,
  and to 15 significant digits at most, then written in shortest form.

So the mean of 24.98 and 25.0 is ``24.99`` (not ``24.990000000000002``), 20.191 − 20.0 is
``0.191``, 12345678.123 − 12345600.0 is ``78.123``: a result whose exact decimal value has no
more digits than that place comes out exactly, whatever the float arithmetic did. A mean that
really has more digits keeps them (the mean of 1, 1 and 2 is ``1.33333333333333``); the
request's ``decimals`` option fixes the digits of every value when that is too many to read.
"""

from __future__ import annotations

import math

EPSILON = 2.0**-52
MAX_SIGNIFICANT = 15


def error_of(scale: float, count: int) -> float:
    """The estimated absolute error of a value computed from ``count`` inputs at ``scale``."""
    return 4.0 * math.sqrt(max(count, 2)) * abs(scale) * EPSILON


def settle(value: float | None, error: float) -> float | None:
    """``value`` rounded to the first decimal place above ``error`` (see the module docstring).

    ``None``, NaN and infinities pass through; so does an exact zero.
    """
    if value is None or type(value) is int or value == 0.0 or not math.isfinite(value):
        return value
    significant = MAX_SIGNIFICANT - 1 - math.floor(math.log10(abs(value)))
    if error > 0.0:
        places = -math.ceil(math.log10(error))
        significant = min(significant, places)
    return round(value, significant) + 0.0  # + 0.0 turns -0.0 into 0.0


def settled_delta(value: float, before: float) -> float:
    """``value − before`` without the noise of the subtraction."""
    return settle(value - before, error_of(max(abs(value), abs(before)), 2))


def settled_aggregate(
    aggregation: str, result: float | None, count: int, magnitude: float
) -> float | None:
    """An aggregate of ``count`` inputs whose largest magnitude is ``magnitude``, settled.

    ``aggregation`` is one of avg, sum, min, max, stddev, variance; min and max are stored
    values and come back untouched.
    """
    if result is None or aggregation in ("min", "max"):
        return result
    if aggregation == "sum":
        return settle(result, error_of(count * magnitude, count))
    stddev_error = error_of(magnitude, count)
    if aggregation == "variance":
        spread = math.sqrt(result) if result > 0 else 0.0
        return settle(result, 2.0 * max(spread, stddev_error) * stddev_error)
    return settle(result, stddev_error)  # avg, stddev
