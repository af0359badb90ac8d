"""The export engine: windows, reading, decimation, transforms and shaping into writer tables.

``tables.build_tables`` is the entry point; ``exports.queue.runner`` runs it for a job.
"""
