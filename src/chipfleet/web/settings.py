"""The web app's settings: where its files and runs live, who may write, how many jobs run at once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from chipfleet.exceptions import ConfigError

TOKEN_ENV = "CHIPFLEET_API_TOKEN"
DATA_DIR_ENV = "CHIPFLEET_DATA_DIR"
MAX_JOBS_ENV = "CHIPFLEET_MAX_JOBS"


@dataclass(frozen=True)
class Settings:
    """What one server runs with.

    ``data_dir / "files"`` is the only folder a request may name files in (catalog overlays, model configs, trace
    files, measurements) and where a run's plots are written (``files/runs/<run id>/``); ``token``, when set, is
    required on every request that writes or starts work; ``store_url`` is the run store (None: the store's
    default, $CHIPFLEET_DB or the user's SQLite file)."""

    data_dir: Path
    token: str | None = None
    store_url: str | None = None
    max_jobs: int = 2

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    def run_dir(self, run_id: str) -> Path:
        """The folder a run's written files (plots, reports) go to."""
        return self.files_dir / "runs" / run_id

    @classmethod
    def from_env(cls) -> Settings:
        """Settings from the environment: $CHIPFLEET_DATA_DIR (default: the user's data folder for chipfleet),
        $CHIPFLEET_API_TOKEN, $CHIPFLEET_DB, $CHIPFLEET_MAX_JOBS (default: half the cores, at least 1)."""
        import platformdirs

        data_dir = Path(os.environ.get(DATA_DIR_ENV) or platformdirs.user_data_dir("chipfleet")).expanduser()
        token = os.environ.get(TOKEN_ENV) or None
        raw_jobs = os.environ.get(MAX_JOBS_ENV, "").strip()
        try:
            max_jobs = int(raw_jobs) if raw_jobs else max(1, (os.cpu_count() or 2) // 2)
        except ValueError:
            raise ConfigError(f"${MAX_JOBS_ENV} must be a whole number of jobs, got {raw_jobs!r}") from None
        if max_jobs < 1:
            raise ConfigError(f"${MAX_JOBS_ENV} must be at least 1, got {max_jobs}")
        return cls(data_dir=data_dir.resolve(), token=token, store_url=os.environ.get("CHIPFLEET_DB") or None,
                   max_jobs=max_jobs)  # fmt: skip
