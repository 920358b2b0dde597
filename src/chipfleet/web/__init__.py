"""The HTTP API (FastAPI) and the pages: the CLI's commands as endpoints, long ones as background jobs."""
