"""The export engine: reading, decimation, transforms and shaping into ``exports.rows`` tables.

``tables.build_tables`` is the entry point; ``exports.queue.runner`` runs it for a job.
"""
