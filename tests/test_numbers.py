"""Numbers without noise (issue 9 §2): computed values lose the binary artefacts, keep their
meaningful digits; stored values are written as stored."""

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exports.engine.numbers import settle, settled_aggregate, settled_delta
from exports.engine.transform import delta


def test_it_writes_the_mean_of_24_98_and_25_as_24_99():
    assert repr(settled_aggregate("avg", (24.98 + 25.0) / 2, 2, 25.0)) == "24.99"


def test_it_writes_a_small_difference_of_large_readings_without_noise():
    assert 20.191 - 20.0 != 0.191  # the float answer is noisy...
    assert repr(settled_delta(20.191, 20.0)) == "0.191"  # ...the written one is not
    assert repr(settled_delta(12345678.123, 12345600.0)) == "78.123"


def test_it_keeps_the_digits_a_mean_really_has():
    assert repr(settled_aggregate("avg", 4 / 3, 3, 2.0)) == "1.33333333333333"


def test_it_leaves_min_max_and_missing_values_alone():
    assert settled_aggregate("max", 12345678.123, 5, 12345678.123) == 12345678.123
    assert settled_aggregate("stddev", None, 1, 3.0) is None
    assert settle(float("nan"), 1e-9) != settle(float("nan"), 1e-9)  # NaN stays NaN
    assert settle(0.0, 1.0) == 0.0


def test_the_delta_transform_writes_settled_differences():
    from exports.engine.reading import Point

    points = [Point(t, 0, "p", v, "", None) for t, v in enumerate([20.0, 20.191, 12345678.123])]
    assert [repr(point.value) for point in delta(points)] == ["0.191", "12345657.932"]


decimals_ = st.integers(min_value=0, max_value=6)


def decimal_values(places, count):
    magnitude = st.integers(min_value=-(10**12), max_value=10**12)
    return st.lists(
        magnitude.map(lambda units: Decimal(units).scaleb(-places)), min_size=2, max_size=count
    )


@settings(max_examples=300, deadline=None)
@given(data=st.data(), places=decimals_)
def test_a_sum_or_difference_of_decimals_comes_out_exactly(data, places):
    values = data.draw(decimal_values(places, 200))
    floats = [float(value) for value in values]
    magnitude = max(abs(value) for value in floats)
    total = math.fsum(floats) if len(floats) > 100 else sum(floats)
    written = settled_aggregate("sum", total, len(floats), magnitude)
    assert Decimal(repr(written)) == sum(values)
    difference = settled_delta(floats[0], floats[1])
    assert Decimal(repr(difference)) == values[0] - values[1]


@settings(max_examples=300, deadline=None)
@given(data=st.data(), places=decimals_)
def test_a_mean_is_right_to_its_last_written_digit_and_has_no_noise(data, places):
    values = data.draw(decimal_values(places, 50))
    floats = [float(value) for value in values]
    magnitude = max(abs(value) for value in floats)
    written = settled_aggregate("avg", sum(floats) / len(floats), len(floats), magnitude)
    exact = Fraction(sum(values)) / len(values)
    text = repr(written)
    digits = len(text.split(".")[1]) if "." in text and "e" not in text else 0
    # Off by at most one unit of the last written digit, and never more than 15 significant
    # digits: the noise of binary arithmetic is gone.
    assert abs(Fraction(written) - exact) <= Fraction(1, 10**digits)
    assert len(Decimal(text).normalize().as_tuple().digits) <= 15
    if exact.denominator in (1, 2, 4, 5, 8, 10, 20, 25, 50) and abs(exact) < 10**9:
        assert Decimal(text) == Decimal(exact.numerator) / exact.denominator


@pytest.mark.parametrize("stored", [12345678.123, 0.1, 1e-07, 123.456789012345, 2.5e20])
def test_stored_values_keep_their_shortest_form(stored):
    assert repr(stored) == str(stored)  # what every writer uses for a stored float
    assert settled_aggregate("min", stored, 3, abs(stored)) == stored
