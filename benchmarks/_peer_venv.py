"""A peer tool in its own virtual environment under ``benchmarks/``: created on first use from PyPI, reused
after, and run in a subprocess, so no benchmark peer is ever installed into the project's environment."""

from __future__ import annotations

import json
import os
import subprocess
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class PeerVenv:
    """``packages`` installed into ``benchmarks/<folder>``; ``probe`` is an import that proves it works."""

    folder: str
    packages: tuple[str, ...]
    probe: str
    install_timeout_s: float = 300.0

    @property
    def path(self) -> Path:
        return HERE / self.folder

    @property
    def python(self) -> Path:
        return self.path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")

    @staticmethod
    def env() -> dict[str, str]:
        env = dict(os.environ)
        # Belt and braces: nothing in a peer should reach the Hugging Face Hub, and import-time notices of
        # transformers ("None of PyTorch, TensorFlow ... have been found") are noise here.
        env.update(
            HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TRANSFORMERS_VERBOSITY="error", PYTHONWARNINGS="ignore"
        )
        env.pop("PYTHONPATH", None)
        return env

    def importable(self) -> bool:
        if not self.python.exists():
            return False
        r = subprocess.run([str(self.python), "-c", f"import {self.probe}"], env=self.env(), capture_output=True)
        return r.returncode == 0

    def ensure(self) -> str | None:
        """Create the environment and install the packages; None when ready, else why not."""
        if self.importable():
            return None
        spec = " ".join(self.packages)
        print(f"setting up {self.path} (pip install {spec}; reused on later runs) ...", flush=True)
        try:
            if not self.python.exists():
                venv.EnvBuilder(with_pip=True, clear=True).create(self.path)
        except Exception as e:  # no ensurepip, read-only disk, ...
            return f"could not create the virtual environment {self.path}: {e}"
        cmd = [str(self.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *self.packages]
        try:
            r = subprocess.run(cmd, env=self.env(), capture_output=True, text=True, timeout=self.install_timeout_s)
        except subprocess.TimeoutExpired:
            return f"`pip install {spec}` did not finish within {self.install_timeout_s:g} s (no access to PyPI?)"
        if r.returncode != 0:
            tail = " | ".join((r.stderr or r.stdout).strip().splitlines()[-3:])
            return f"`pip install {spec}` failed (exit {r.returncode}): {tail}"
        if not self.importable():
            return f"{spec} installed but `import {self.probe}` fails in {self.path}"
        return None

    def run(self, script: Path, request: dict[str, Any], timeout_s: float = 300.0) -> dict[str, Any]:
        """Run ``script`` with the peer's Python, the request as JSON on stdin, one JSON object back."""
        r = subprocess.run(
            [str(self.python), str(script)],
            input=json.dumps(request),
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        if r.returncode != 0:
            tail = " | ".join((r.stderr.strip() or r.stdout.strip()).splitlines()[-3:])
            raise RuntimeError(f"{script.name} failed (exit {r.returncode}): {tail}")
        out: dict[str, Any] = json.loads(r.stdout)
        return out
