"""The JSON API under ``/api/``: what the pages do, for programs.

Every view calls the same domain functions as the pages (``exports.requests.schema``,
``exports.data.access``, ``exports.queue.ondemand``, ``exports.files.downloads``,
``exports.editor.preview``, ``exports.data.catalog``, ``exports.data.ingestion``); this package
only maps HTTP to them and their errors to one JSON shape,
``{"errors": [{"path": ..., "message": ...}]}``.
"""
