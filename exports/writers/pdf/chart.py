"""The line chart of one series, drawn with reportlab's own graphics (vector paths, no image).

A chart is a few hundred points wide, so a long series is decimated for it: the time span is
cut into one bucket per point of width and each bucket keeps its lowest and its highest value,
in time order (a spike survives, a flat line stays flat). The table is never decimated.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, tzinfo

from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors

from exports.writers.columns import shortest

LINE = colors.HexColor("#2f6db5")
GRID = colors.HexColor("#dde3ea")
AXIS = colors.HexColor("#44546a")
LABEL_SIZE = 6
LEFT, BOTTOM, RIGHT, TOP = 34, 12, 8, 4  # room for the axis labels, in points


def decimate(
    times: Sequence[float], values: Sequence[float], start: float, end: float, buckets: int
) -> list[tuple[float, float]]:
    """``(time, value)`` points of a time-ordered series, at most two per bucket of
    ``[start, end]`` (its lowest and highest value, in time order); all of them when there
    are no more than ``2 * buckets``. Times are seconds, as given."""
    if len(times) <= 2 * buckets:
        return list(zip(times, values, strict=True))
    scale = buckets / (end - start) if end > start else 0.0
    low: dict[int, int] = {}
    high: dict[int, int] = {}
    for index, (moment, value) in enumerate(zip(times, values, strict=True)):
        bucket = min(int((moment - start) * scale), buckets - 1)
        lowest = low.get(bucket)
        if lowest is None:
            low[bucket] = high[bucket] = index
        elif value < values[lowest]:
            low[bucket] = index
        elif value > values[high[bucket]]:
            high[bucket] = index
    kept = sorted({*low.values(), *high.values()})
    return [(times[index], values[index]) for index in kept]


def tick_format(span: float, zone: tzinfo) -> Callable[[float], str]:
    """A label for a time axis tick (seconds since the epoch) in ``zone``: the clock time
    for a day or so, day and time for a few weeks, the date beyond; a wall time of the
    repeated autumn hour with its offset (``02:00 +01:00``), as in the table."""
    pattern = "%H:%M" if span <= 36 * 3600 else "%m-%d %H:%M" if span <= 60 * 86400 else "%Y-%m-%d"

    def label(seconds: float) -> str:
        moment = datetime.fromtimestamp(seconds, zone)
        text = moment.strftime(pattern)
        offset = moment.utcoffset()
        if offset is not None and moment.replace(fold=1 - moment.fold).utcoffset() != offset:
            text += _offset(offset)
        return text

    return label


def _offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f" {sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def number_format(separator: str) -> Callable[[float], str]:
    """A label for a value axis tick: its shortest form with the report's decimal separator."""

    def label(value: float) -> str:
        text = shortest(float(f"{value:.6g}"))
        return text if separator == "." else text.replace(".", separator)

    return label


def series_chart(
    times: array,
    values: array,
    span: tuple[float, float],
    zone: tzinfo,
    size: tuple[float, float],
    font: str,
    separator: str = ".",
) -> Drawing:
    """The line chart of one numeric series: ``times`` (seconds since the epoch, ascending)
    against ``values`` over ``span`` (the table's first and last second), ``size`` points."""
    width, height = size
    start, end = span
    if end <= start:  # one instant: a minute either side
        start, end = start - 60, end + 60
    plot_width = width - LEFT - RIGHT
    points = decimate(times, values, start, end, max(int(plot_width), 1))
    drawing = Drawing(width, height)
    plot = LinePlot()
    plot.x, plot.y = LEFT, BOTTOM
    plot.width, plot.height = plot_width, height - BOTTOM - TOP
    plot.data = [points]
    plot.joinedLines = 1
    plot.lines[0].strokeColor = LINE
    plot.lines[0].strokeWidth = 0.8
    if len(points) == 1:
        plot.lines[0].symbol = makeMarker("FilledCircle", size=3, fillColor=LINE)
    lowest, highest = min(values), max(values)
    # A margin above and below, so the line never runs along the frame; a flat line sits in
    # the middle.
    pad = (highest - lowest) * 0.05 or abs(lowest) * 0.1 or 1.0
    lowest, highest = lowest - pad, highest + pad
    _axes(plot, (start, end), (lowest, highest), zone, font, separator)
    drawing.add(plot)
    return drawing


def _axes(plot: LinePlot, x_range, y_range, zone: tzinfo, font: str, separator: str) -> None:
    x_axis, y_axis = plot.xValueAxis, plot.yValueAxis
    x_axis.valueMin, x_axis.valueMax = x_range
    x_axis.valueSteps = _time_steps(*x_range, zone)
    x_axis.labelTextFormat = tick_format(x_range[1] - x_range[0], zone)
    x_axis.tickDown = 2
    y_axis.valueMin, y_axis.valueMax = y_range
    y_axis.labelTextFormat = number_format(separator)
    y_axis.valueSteps = _value_steps(*y_range)
    y_axis.visibleGrid = 1
    y_axis.gridStrokeColor = GRID
    y_axis.gridStrokeWidth = 0.4
    for axis in (x_axis, y_axis):
        axis.labels.fontName = font
        axis.labels.fontSize = LABEL_SIZE
        axis.strokeColor = AXIS
        axis.strokeWidth = 0.5
        axis.avoidBoundFrac = 0


_STEPS = [
    60 * minutes
    for minutes in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080, 43200)
]


def _time_steps(start: float, end: float, zone: tzinfo, most: int = 6) -> list[float]:
    """Tick positions on round local clock times (every 1, 2, 5 … minutes, hours, days)
    with at most ``most`` ticks, still round after a clock change; evenly spread when the
    span is too long for round steps."""
    span = end - start
    for step in _STEPS:
        if span / step <= most:
            break
    else:
        return [start + span * i / (most - 1) for i in range(most)]
    start_offset = _seconds_east(start, zone)
    first = -(-(start + start_offset) // step) * step - start_offset
    ticks = []
    for i in range(int((end - first) // step) + 1):
        tick = first + step * i
        # Keep the wall time round where the offset changed since the start.
        tick += start_offset - _seconds_east(tick, zone)
        if start <= tick <= end and tick not in ticks:
            ticks.append(tick)
    return ticks


def _value_steps(low: float, high: float, most: int = 5) -> list[float]:
    """Ticks at round values (1, 2, 2.5 or 5 times a power of ten apart), at least three
    where the range allows, at most ``most``."""
    span = high - low
    power = 10.0 ** math.floor(math.log10(span / most))
    for factor in (1, 2, 2.5, 5, 10, 20):
        step = power * factor
        first = math.ceil(low / step) * step
        ticks = [first + step * i for i in range(int((high - first) / step) + 1)]
        if len(ticks) <= most:
            return [round(tick, 12) for tick in ticks]
    return [low, high]


def _seconds_east(moment: float, zone: tzinfo) -> float:
    offset = datetime.fromtimestamp(moment, zone).utcoffset()
    return offset.total_seconds() if offset else 0.0


def note_drawing(text: str, size: tuple[float, float], font: str) -> Drawing:
    """A chart-sized drawing that only says ``text`` (no chart for text or empty series)."""
    width, height = size
    drawing = Drawing(width, height)
    drawing.add(
        String(
            LEFT, height / 2, text, fontName=font, fontSize=8, fillColor=colors.HexColor("#777777")
        )
    )
    return drawing
