"""PyTorch plumbing and machine facts shared by the probes, the benchmark and the check: nothing here imports
torch at module import time (:func:`import_torch` does, inside the functions that need it)."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from chipfleet.catalog import Precision
from chipfleet.exceptions import ConfigError

TORCH_PRECISIONS = (Precision.FP32, Precision.BF16, Precision.FP16)
"""The precisions PyTorch runs GEMMs in here (and so the ones local measurement and validation use)."""


def import_torch() -> Any:
    """The ``torch`` module, or a ConfigError that says how to install the ``torch`` extra."""
    try:
        import torch
    except ImportError:
        raise ConfigError(
            "PyTorch is not installed, and local measurement runs real kernels with it; install the extra with "
            "`pip install torch==2.13.0 && pip install 'chipfleet[torch]'` (pinning torch first avoids a "
            "multi-GB CUDA download where a CPU build is wanted)"
        ) from None
    return torch


def torch_dtype(torch: Any, p: Precision) -> Any:
    """The torch dtype of ``p`` (fp32, bf16 or fp16 only)."""
    table = {Precision.FP32: torch.float32, Precision.BF16: torch.bfloat16, Precision.FP16: torch.float16}
    if p not in table:
        raise ConfigError(f"local validation runs in fp32, bf16 or fp16, not {p.value}", field="precision")
    return table[p]


def resolve_device(torch: Any, device: str | None) -> Any:
    """``device`` ("cpu", "cuda", "cuda:N"; None: the first GPU if torch sees one, else the CPU) as a torch device."""
    if device is None:
        device = "cuda:0" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {device!r} asked for, but this PyTorch sees no CUDA GPU; use device 'cpu'", field="device"
            )
        if dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
    elif dev.type != "cpu":
        raise ConfigError(f"device {device!r}: local measurement supports 'cpu' and 'cuda[:N]'", field="device")
    return dev


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def torch_threads(torch: Any, n: int) -> Iterator[None]:
    """Run with ``n`` intra-op threads, restoring the previous setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def sync_fn(torch: Any, dev: Any) -> Callable[[], None]:
    """A call that waits for ``dev``'s queued kernels (a no-op on the CPU, whose kernels run synchronously)."""
    if dev.type == "cuda":
        return lambda: torch.cuda.synchronize(dev)
    return lambda: None


def time_call(
    fn: Callable[[], object], sync: Callable[[], None], budget_s: float, samples: int = 5, warmup: int = 1
) -> float:
    """Median per-call time of ``fn`` over ``samples`` blocks that together fill about ``budget_s``."""
    for _ in range(warmup):
        fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    one = max(time.perf_counter() - t0, 1e-7)
    per_block = max(1, int(budget_s / samples / one))
    times: list[float] = []
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(per_block):
            fn()
        sync()
        times.append((time.perf_counter() - t0) / per_block)
    return statistics.median(times)


def time_repeats(fn: Callable[[], object], sync: Callable[[], None], repeats: int, warmup: int) -> list[float]:
    """Wall time of each of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    sync()
    out: list[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        out.append(time.perf_counter() - t0)
    return out


def cpu_info() -> tuple[str, str]:
    """(model name, vendor id) from /proc/cpuinfo, falling back to :mod:`platform`."""
    name, vendor = "", ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key == "model name" and not name:
                name = value.strip()
            elif key == "vendor_id" and not vendor:
                vendor = value.strip()
            elif key == "cpu implementer" and not vendor:
                vendor = f"arm-implementer-{value.strip()}"
    return name or platform.processor() or platform.machine() or "unknown CPU", vendor or platform.machine()


def host_memory_bytes() -> float:
    """MemTotal from /proc/meminfo, else physical pages × page size."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return float(line.split()[1]) * 1024.0
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        raise ConfigError("cannot read this machine's memory size (no /proc/meminfo or sysconf)") from None


def last_level_cache_bytes() -> int:
    """The largest CPU cache in sysfs (0 when unknown), so bandwidth buffers can be made to exceed it."""
    best = 0
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    for size_file in base.glob("index*/size"):
        with contextlib.suppress(OSError, ValueError):
            text = size_file.read_text().strip().upper()
            mult = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
            best = max(best, int(text.rstrip("KMG")) * mult)
    return best


def gpu_power_limit_w(index: int) -> float | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, f"--id={index}", "--query-gpu=power.limit", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        return float(out.splitlines()[0])
    except (subprocess.SubprocessError, OSError, ValueError, IndexError):
        return None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "device"
