"""`chipfleet serve-app`: the web app and HTTP API (uvicorn), on the loopback interface unless told otherwise."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from chipfleet.exceptions import ConfigError

# the web layer sits above the CLI: the server is started by its import string, never imported here
APP_FACTORY = "chipfleet.web.app:create_app"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
TOKEN_ENV = "CHIPFLEET_API_TOKEN"
DATA_DIR_ENV = "CHIPFLEET_DATA_DIR"


def serve_app(
    host: Annotated[str, typer.Option(help="Interface to listen on; another than loopback needs a token.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    token_file: Annotated[
        Path | None,
        typer.Option(help=f"File holding the bearer token that writes and job starts need (else ${TOKEN_ENV})."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help=f"Folder of the files requests may name, and of the runs' plots (else ${DATA_DIR_ENV}, "
            "else the user's data folder)."
        ),
    ] = None,
) -> None:
    """Serve the web pages at / and the HTTP API at /api (OpenAPI schema at /openapi.json)."""
    import uvicorn

    token = _read_token(token_file) if token_file is not None else os.environ.get(TOKEN_ENV) or None
    if host not in LOOPBACK and token is None:
        raise ConfigError(
            f"--host {host} listens beyond this machine, so a token is required: give --token-file FILE or set "
            f"${TOKEN_ENV} (or keep the default --host 127.0.0.1)",
            field="host",
        )
    if token is not None:
        os.environ[TOKEN_ENV] = token  # create_app reads its settings from the environment (uvicorn's factory)
    if data_dir is not None:
        os.environ[DATA_DIR_ENV] = str(data_dir.expanduser().resolve())
    # the access log shows method, path and status: never headers, where the token travels
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, log_level="info", access_log=True)


def _read_token(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigError(f"cannot read the token file {path}: {e.strerror}; give a readable file") from None
    if not text:
        raise ConfigError(f"the token file {path} is empty; write the token on its first line")
    return text.splitlines()[0].strip()
