"""API views, one module per kind of object: requests, jobs, the catalog, ingest."""
