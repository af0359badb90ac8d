"""The server-rendered pages: export requests (``requests``) and their jobs (``jobs``)."""
