"""The trace-loader registry (its contract over every loader is tests/test_plugin_contract.py) and the shipped traces'
published figures."""

from __future__ import annotations

import gzip
import hashlib
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from chipfleet.exceptions import ConfigError, UnknownNameError
from chipfleet.traces import (
    LOADERS,
    JobTrace,
    RequestTrace,
    list_traces,
    load_trace,
    register_loader,
    trace_info,
)
from chipfleet.traces.builtin import SHIPPED, shipped_bytes

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "traces"


@cache
def loaded(name: str) -> RequestTrace | JobTrace:
    return load_trace(name)


# --- registry behaviour ------------------------------------------------------------------------------------------


def test_builtins_are_registered() -> None:
    assert {"azure-code", "azure-conv", "mooncake-conv", "philly"} <= set(list_traces())
    assert list_traces() == sorted(list_traces())


def test_duplicate_names_are_refused() -> None:
    def again(*, skip_bad_rows: bool = False) -> RequestTrace | JobTrace:
        return loaded("azure-conv")

    with pytest.raises(ConfigError, match="already registered") as err:
        register_loader("azure-conv", kind="requests")(again)
    message = str(err.value)
    assert "chipfleet.traces.builtin" in message and "test_duplicate_names_are_refused.<locals>.again" in message
    assert trace_info("azure-conv").loader is not again


def test_bad_registrations_are_refused() -> None:
    with pytest.raises(ConfigError, match="lower case"):
        register_loader("My Trace", kind="requests")
    with pytest.raises(ConfigError, match="kind must be"):
        register_loader("x", kind="calls")  # type: ignore[arg-type]
    assert "my trace" not in LOADERS and "x" not in LOADERS


def test_registered_names_are_case_insensitive() -> None:
    assert trace_info(" Azure-Conv ").name == "azure-conv"
    assert load_trace("PHILLY").name == "philly"


def test_unknown_name_suggests() -> None:
    with pytest.raises(UnknownNameError) as err:
        load_trace("azure-cnv")
    assert "azure-conv" in err.value.suggestions
    assert err.value.kind == "trace"


def test_mapping_with_a_registered_name_is_refused() -> None:
    with pytest.raises(ConfigError, match="mapping applies only to files"):
        load_trace("azure-conv", mapping={"arrival": "a", "input": "b", "output": "c"})


def test_bad_kind_argument() -> None:
    with pytest.raises(ConfigError, match="kind must be"):
        load_trace("azure-conv", kind="calls")  # type: ignore[arg-type]


# --- shipped files: package data, provenance, checksums ------------------------------------------------------------

# sha256 of the uncompressed content: shared/data/traces/README.md and src/chipfleet/traces/data/README.md.
SHA256 = {
    "azure_code.csv.gz": "54e9a6d2a4bd06ba1e060304b900abbc74cbea53de96506e60fe5bb4f2277fb6",
    "azure_conv.csv.gz": "2f1e5b666d4e3055fdbba98598ce2ec307767b9064e03e2fa46676dbcc7d0bf8",
    "mooncake_conversation_trace.jsonl.gz": "b8cbb061a85206d729d91cdc2981f43c9e0d99209dce588d3af5f7934408b9df",
    "philly.csv.gz": "ebffb3dd1589bdf4e7bcd74496201c5ded1d557d498ee14f560463f37ec353da",
}
ORIGINAL = {
    "azure_code.csv.gz": "AzureLLMInferenceTrace_code.csv",
    "azure_conv.csv.gz": "AzureLLMInferenceTrace_conv.csv",
    "mooncake_conversation_trace.jsonl.gz": "conversation_trace.jsonl",
    "philly.csv.gz": "philly.csv",
}


@pytest.mark.parametrize("filename", sorted(SHA256))
def test_shipped_file_checksum_and_reproducible_gzip(filename: str) -> None:
    packed = shipped_bytes(filename)
    assert packed[:2] == b"\x1f\x8b"
    assert packed[4:8] == b"\x00\x00\x00\x00", "gzip header mtime must be 0 (reproducible)"
    raw = gzip.decompress(packed)
    assert hashlib.sha256(raw).hexdigest() == SHA256[filename]
    readme = resources.files("chipfleet.traces").joinpath("data", "README.md").read_text(encoding="utf-8")
    assert SHA256[filename] in readme and filename in readme
    shared = SHARED / ORIGINAL[filename]
    if shared.is_file():
        assert raw == shared.read_bytes()


def test_shipped_files_are_package_data() -> None:
    package_dir = Path(str(resources.files("chipfleet.traces")))
    for spec in SHIPPED:
        path = package_dir / "data" / spec.filename
        assert path.is_file(), f"{spec.filename} missing from package data"
    assert sum((package_dir / "data" / s.filename).stat().st_size for s in SHIPPED) < 2_000_000


def test_builtins_load_without_shared_or_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    real_read_bytes = Path.read_bytes

    def guarded(self: Path) -> bytes:
        assert "shared" not in self.parts, f"built-in trace read from {self}"
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", guarded)
    assert len(load_trace("azure-code")) == 8_819


# --- per-trace figures stated in shared/data/traces/README.md ("measured here") -----------------------------------


def _requests(name: str) -> RequestTrace:
    trace = loaded(name)
    assert isinstance(trace, RequestTrace)
    return trace


def test_azure_code_figures() -> None:
    t = _requests("azure-code")
    assert len(t) == 8_819
    assert t.duration_s == pytest.approx(3_436, abs=1)  # 18:17:03.98 to 19:14:19.93
    assert t.rate_per_s == pytest.approx(2.6, abs=0.05)
    assert t.input_tokens.mean() == pytest.approx(2_048, abs=1)
    assert np.median(t.input_tokens) == 1_469 and t.input_tokens.max() == 7_437
    assert t.output_tokens.mean() == pytest.approx(28, abs=1)
    assert np.median(t.output_tokens) == 13 and t.output_tokens.max() == 1_899
    assert t.hash_ids is None and t.license == "CC-BY-4.0"


def test_azure_conv_figures() -> None:
    t = _requests("azure-conv")
    assert len(t) == 19_366
    assert t.duration_s == pytest.approx(3_502, abs=1)  # 18:15:46.68 to 19:14:08.40
    assert t.rate_per_s == pytest.approx(5.5, abs=0.05)
    assert t.input_tokens.mean() == pytest.approx(1_155, abs=1)
    assert np.median(t.input_tokens) == 1_020 and t.input_tokens.max() == 14_050
    assert t.output_tokens.mean() == pytest.approx(211, abs=1)
    assert np.median(t.output_tokens) == 129 and t.output_tokens.max() == 1_000
    # 7 fractional digits: the first gap is 18:15:50.9951690 - 18:15:46.6805900
    assert t.arrival_s[1] == pytest.approx(4.314579, abs=1e-6)


def test_mooncake_conv_figures() -> None:
    t = _requests("mooncake-conv")
    assert len(t) == 12_031
    assert t.duration_s == pytest.approx(3_536.999, abs=1e-9)  # 0 to 3,536,999 ms
    assert t.input_tokens.mean() == pytest.approx(12_035, abs=1)
    assert np.median(t.input_tokens) == 6_909 and t.input_tokens.max() == 126_195
    assert t.output_tokens.mean() == pytest.approx(343, abs=1)
    assert np.median(t.output_tokens) == 350 and t.output_tokens.max() == 2_000
    assert t.block_tokens == 512 and t.hash_ids is not None
    blocks = np.array([len(h) for h in t.hash_ids])
    assert np.array_equal(blocks, -(-t.input_tokens // 512)), "len(hash_ids) == ceil(input_length / 512)"
    assert t.hash_ids[0][:3] == (0, 1, 2)
    assert t.license == "Apache-2.0"


def test_philly_figures() -> None:
    t = loaded("philly")
    assert isinstance(t, JobTrace)
    assert len(t) == 82_247
    span = (datetime(2017, 12, 22, 8, 2, 11) - datetime(2017, 9, 4, 10, 30, 41)).total_seconds()
    assert t.span_s == span
    assert np.median(t.duration_s) == 1_144
    assert t.duration_s.mean() == pytest.approx(13_136, abs=1)
    assert t.duration_s.max() == 4_628_226
    counts = {int(c): int(k) for c, k in zip(*np.unique(t.chips, return_counts=True), strict=True)}
    assert {c: counts[c] for c in (1, 2, 4, 8, 16, 32)} == {1: 76_627, 2: 1_818, 4: 1_870, 8: 1_643, 16: 199, 32: 67}
    assert set(counts) == {1, 2, 4, 8, 12, 16, 24, 32, 64, 128}
    assert "CC-BY-4.0" in t.license
