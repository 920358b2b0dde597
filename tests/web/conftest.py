"""Fixtures of the API's tests: an app on a fresh SQLite run store and data folder, and a client of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chipfleet.web.app import create_app
from chipfleet.web.settings import Settings


def make_client(root: Path, token: str | None = None) -> TestClient:
    settings = Settings(data_dir=root / "data", token=token, store_url=f"sqlite:///{root / 'runs.sqlite'}", max_jobs=2)
    return TestClient(create_app(settings), base_url="http://127.0.0.1")  # a loopback Host, as a browser here sends


@pytest.fixture(scope="module")
def api_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api")


@pytest.fixture(scope="module")
def client(api_root: Path) -> Iterator[TestClient]:
    """The app in this process (its jobs in real worker processes), on a store and data folder of its own."""
    with make_client(api_root) as c:
        yield c


@pytest.fixture
def token_client(tmp_path: Path) -> Iterator[TestClient]:
    """An app whose writes need the bearer token "s3cret-token"."""
    with make_client(tmp_path, token="s3cret-token") as c:
        yield c


@pytest.fixture
def files(api_root: Path) -> Path:
    """The data folder's files/, where requests may name files."""
    return api_root / "data" / "files"
