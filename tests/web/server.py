"""A real uvicorn server of the app on a free loopback port, in its own process, for the API's tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    """``chipfleet.web.app:create_app`` under uvicorn; its output (the access log) goes to ``log``."""

    data_dir: Path
    db_url: str
    port: int
    log: Path
    token: str | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {**os.environ, "CHIPFLEET_DB": self.db_url, "CHIPFLEET_DATA_DIR": str(self.data_dir),
               "CHIPFLEET_MAX_JOBS": "2"}  # fmt: skip
        env.pop("CHIPFLEET_API_TOKEN", None)
        if self.token is not None:
            env["CHIPFLEET_API_TOKEN"] = self.token
        return env

    def start(self, timeout_s: float = 60.0) -> Server:
        args = [sys.executable, "-m", "uvicorn", "chipfleet.web.app:create_app", "--factory", "--host", "127.0.0.1",
                "--port", str(self.port)]  # fmt: skip
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(args, env=self.env(), stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}): {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/api/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server did not answer in {timeout_s} s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def children(self) -> list[int]:
        """Pids of the server's child processes (its job workers, multiprocessing's helpers)."""
        assert self.proc is not None
        out = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.proc.pid:
                    out.append(int(entry.name))
        return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
