"""What the engine hands the writers: tables of rows, and instants as epoch microseconds.

Below both ``exports.engine`` (which builds them) and ``exports.writers`` (which stream them
to files), so that neither imports the other. ``tables``: ``Table``, ``ReportInfo``,
``ColumnChunks``; ``times``: the one copy of the epoch ↔ microseconds conversions, and
``LocalClock``/``LocalTimes`` (columns of instants shown in one timezone).
"""
