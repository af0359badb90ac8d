"""How a SenML unit reads in a report.

Files for tools (CSV, XLSX, JSON, Parquet) keep the unit as stored: the SenML code (RFC 8428
§12.1, RFC 8798), which programs match on. A report is read by people, so the PDF writes the
codes that are spelled differently in print (``Cel`` → ``°C``, ``m3`` → ``m³``) as their
symbols, and every other unit as it is. The symbols are Latin-1, so they print with the
PDF's fallback font too.
"""

from __future__ import annotations

SYMBOLS = {
    "Cel": "°C",
    "deg": "°",
    "dps": "°/s",
    "m2": "m²",
    "m3": "m³",
    "m/s2": "m/s²",
    "m3/s": "m³/s",
    "W/m2": "W/m²",
    "cd/m2": "cd/m²",
    "kg/m3": "kg/m³",
    "ug/m3": "µg/m³",
}


def unit_symbol(unit: str) -> str:
    """``unit`` as a reader expects it printed: ``°C`` for ``Cel``; others unchanged."""
    return SYMBOLS.get(unit, unit)
