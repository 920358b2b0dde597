"""Which database the store opens, and the errors that say which URL failed (password hidden) and how to fix it."""

from __future__ import annotations

import socket
from pathlib import Path

import platformdirs
import pytest

from chipfleet.exceptions import ConfigError
from chipfleet.store import default_store_url, open_store
from chipfleet.store.engine import masked, parse_url


def test_the_default_url_is_the_env_var_else_a_file_in_the_user_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHIPFLEET_DB", "postgresql://u@db/x")
    assert default_store_url() == "postgresql://u@db/x"
    monkeypatch.delenv("CHIPFLEET_DB")
    assert default_store_url() == f"sqlite:///{Path(platformdirs.user_data_dir('chipfleet')) / 'runs.sqlite'}"


def test_urls_map_postgresql_to_psycopg_and_a_bare_path_to_sqlite(tmp_path: Path) -> None:
    assert parse_url("postgresql://u:pw@h:5/d").drivername == "postgresql+psycopg"
    assert parse_url("postgresql+psycopg://u@h/d").drivername == "postgresql+psycopg"
    bare = parse_url(str(tmp_path / "x.sqlite"))
    assert (bare.drivername, bare.database) == ("sqlite", str(tmp_path / "x.sqlite"))
    assert masked("postgresql://u:secret@h/d") == "postgresql://u:***@h/d"


def test_a_bare_path_opens_a_sqlite_store_creating_its_folder(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "new" / "folder" / "runs.sqlite"))
    rid = store.save("claims", {}, [], catalog_hash="h", overlays=[])
    assert store.get(rid).kind == "claims" and store.backend == "sqlite"
    assert (tmp_path / "new" / "folder" / "runs.sqlite").is_file()
    store.close()


def test_an_unreachable_database_names_the_url_without_its_password() -> None:
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConfigError) as err:
        open_store(f"postgresql://me:hunter2@127.0.0.1:{port}/runs")
    message = str(err.value)
    assert f"cannot open the run store postgresql+psycopg://me:***@127.0.0.1:{port}/runs" in message
    assert "hunter2" not in message and "CHIPFLEET_DB" in message and err.value.field == "db"


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("", "URL is empty"),
        ("nosuchdb://x/y", "needs a database driver that is not installed"),
        ("postgresql://u:pw@h:notaport/d", "is not a database URL"),
    ],
)
def test_bad_urls_say_what_is_wrong_and_how_to_fix_it(url: str, said: str) -> None:
    with pytest.raises(ConfigError, match=said) as err:
        open_store(url)
    assert "CHIPFLEET_DB" in str(err.value) and "pw" not in str(err.value)


def test_a_sqlite_file_in_an_unwritable_place_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot create the run store's folder"):
        open_store(f"sqlite:///{blocker / 'sub' / 'runs.sqlite'}")
