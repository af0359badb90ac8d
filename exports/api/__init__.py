"""The JSON API under ``/api/``: what the pages do, for programs.

Every view calls the same domain functions as the pages (``exports.schema``, ``exports.access``,
``exports.scheduling.ondemand``, ``exports.downloads``, ``exports.preview``, ``exports.catalog``,
``exports.ingestion``); this package only maps HTTP to them and their errors to one JSON shape,
``{"errors": [{"path": ..., "message": ...}]}``.
"""
