"""Reading trace files: line endings, BOMs, blank lines, unsorted rows, units, bad rows and mapping errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from chipfleet.exceptions import ConfigError, UnknownNameError
from chipfleet.traces import JobMapping, JobTrace, RequestMapping, RequestTrace, load_file, load_trace

REQ = {"arrival": "t", "input": "in", "output": "out"}
JOBS = {"submit": "t", "chips": "gpus", "duration": "run"}


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def requests(path: Path, **kwargs: object) -> RequestTrace:
    trace = load_trace(path, **kwargs)  # type: ignore[arg-type]
    assert isinstance(trace, RequestTrace)
    return trace


def jobs(path: Path, **kwargs: object) -> JobTrace:
    trace = load_trace(path, **kwargs)  # type: ignore[arg-type]
    assert isinstance(trace, JobTrace)
    return trace


# --- file quirks ---------------------------------------------------------------------------------------------------


def test_azure_layout_crlf_no_final_newline_autodetected(tmp_path: Path) -> None:
    text = (
        "TIMESTAMP,ContextTokens,GeneratedTokens\r\n"
        "2023-11-16 18:15:46.6805900,374,44\r\n"
        "2023-11-16 18:15:50.9951690,396,109\r\n"
        "2023-11-16 18:15:51.2224670,879,55"
    )
    t = requests(write(tmp_path, "azure.csv", text))
    assert t.name == "azure"
    assert t.arrival_s == pytest.approx([0.0, 4.314579, 4.541877], abs=1e-7)
    assert t.input_tokens.tolist() == [374, 396, 879]
    assert t.output_tokens.tolist() == [44, 109, 55]
    assert t.skipped_rows == 0 and t.hash_ids is None


def test_unsorted_rows_are_sorted_stably_and_keep_their_fields(tmp_path: Path) -> None:
    text = "t,in,out\n5,50,5\n1,10,1\n3,30,3\n1,11,2\n0.5,5,9\n"
    t = requests(write(tmp_path, "unsorted.csv", text), mapping=REQ)
    assert t.arrival_s.tolist() == [0.0, 0.5, 0.5, 2.5, 4.5]
    assert t.input_tokens.tolist() == [5, 10, 11, 30, 50]  # the two rows at t=1 keep file order
    assert t.output_tokens.tolist() == [9, 1, 2, 3, 5]


def test_philly_layout_unsorted_with_trailing_blank_line(tmp_path: Path) -> None:
    text = (
        "timestamp,duration,num_gpus,gpu_time,cluster\n"
        "2017-10-09 07:01:55,66.0,1,66.0,11cb48\n"
        "2017-10-09 06:13:03,2951.0,1,2951.0,6214e9\n"
        "2017-09-29 07:58:32,860662.0,8,6885296.0,6c71a0\n"
        "\n"
    )
    t = jobs(write(tmp_path, "philly.csv", text))
    assert t.submit_s[0] == 0.0
    assert t.chips.tolist() == [8, 1, 1]
    assert t.duration_s.tolist() == [860662.0, 2951.0, 66.0]
    assert t.submit_s[2] - t.submit_s[1] == 48 * 60 + 52


def test_blank_lines_anywhere_are_skipped_and_line_numbers_stay_physical(tmp_path: Path) -> None:
    text = "t,in,out\n\n0,1,1\n   \n1,2,2\n\n\n2,x,3\n\n\n"
    with pytest.raises(ConfigError, match="line 8:"):
        load_trace(write(tmp_path, "blank.csv", text), mapping=REQ)
    t = requests(tmp_path / "blank.csv", mapping=REQ, skip_bad_rows=True)
    assert len(t) == 2 and t.skipped_rows == 1


def test_header_with_bom(tmp_path: Path) -> None:
    text = "\ufefft,in,out\r\n0,3,4\r\n"
    t = requests(write(tmp_path, "bom.csv", text.encode("utf-8")), mapping=REQ)
    assert t.input_tokens.tolist() == [3]
    azure = "\ufeffTIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00.0000000,1,1\n"
    assert len(requests(write(tmp_path, "bom_azure.csv", azure))) == 1


def test_gzip_files_and_whitespace_and_case_insensitive_columns(tmp_path: Path) -> None:
    raw = b"T, In ,OUT\n 0 , 7 , 8 \n2,9,10\n"
    path = write(tmp_path, "spaced.csv.gz", gzip.compress(raw))
    t = requests(path, mapping=REQ)
    assert t.name == "spaced"
    assert t.input_tokens.tolist() == [7, 9] and t.output_tokens.tolist() == [8, 10]


def test_tsv(tmp_path: Path) -> None:
    t = requests(write(tmp_path, "x.tsv", "t\tin\tout\n0\t1\t2\n1\t3\t4\n"), mapping=REQ)
    assert t.output_tokens.tolist() == [2, 4]


def test_integral_floats_are_token_counts(tmp_path: Path) -> None:
    t = requests(write(tmp_path, "f.csv", "t,in,out\n0,10.0,2.0\n"), mapping=REQ)
    assert t.input_tokens.tolist() == [10]


# --- units ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("unit", "scale"), [("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)])
def test_numeric_time_units(tmp_path: Path, unit: str, scale: float) -> None:
    t = requests(write(tmp_path, "u.csv", "t,in,out\n1000,1,1\n3500,1,1\n"), mapping={**REQ, "time_unit": unit})
    assert t.arrival_s.tolist() == pytest.approx([0.0, 2500 * scale])


def test_datetime_time_unit_with_fractions(tmp_path: Path) -> None:
    text = "t,in,out\n2024-01-01 00:00:59.9999999,1,1\n2024-01-01 00:01:00.5,1,1\n2024-01-01T00:01:01,1,1\n"
    t = requests(write(tmp_path, "d.csv", text), mapping={**REQ, "time_unit": "datetime"})
    assert t.arrival_s.tolist() == pytest.approx([0.0, 0.5000001, 1.0000001], abs=1e-9)


def test_job_duration_units(tmp_path: Path) -> None:
    path = write(tmp_path, "j.csv", "t,gpus,run\n0,4,2\n60,1,0.5\n")
    t = jobs(path, mapping={**JOBS, "duration_unit": "min"})
    assert t.duration_s.tolist() == [120.0, 30.0]
    assert t.chip_seconds == 4 * 120 + 30


def test_mooncake_jsonl_in_ms_with_hashes_following_the_sort(tmp_path: Path) -> None:
    rows = [
        {"timestamp": 3000, "input_length": 600, "output_length": 5, "hash_ids": [0, 1]},
        {"timestamp": 0, "input_length": 100, "output_length": 7, "hash_ids": [2]},
        {"timestamp": 1500, "input_length": 1025, "output_length": 1, "hash_ids": [0, 1, 3]},
    ]
    path = write(tmp_path, "moon.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    t = requests(path)
    assert t.arrival_s.tolist() == [0.0, 1.5, 3.0]
    assert t.hash_ids == ((2,), (0, 1, 3), (0, 1))
    assert t.block_tokens == 512
    assert t.output_tokens.tolist() == [7, 1, 5]


def test_jsonl_without_hashes_and_generic_mapping(tmp_path: Path) -> None:
    text = '{"ts": 2.5, "p": 10, "c": 3}\n{"ts": 0.5, "p": 20, "c": 4}\n'
    t = requests(write(tmp_path, "g.jsonl", text), mapping={"arrival": "ts", "input": "p", "output": "c"})
    assert t.arrival_s.tolist() == [0.0, 2.0] and t.hash_ids is None and t.block_tokens is None
    with_hash = '{"ts": 0, "p": 10, "c": 3, "h": [1, 2]}\n'
    mapping = {"arrival": "ts", "input": "p", "output": "c", "hash_ids": "h", "block_tokens": 16}
    t = requests(write(tmp_path, "h.jsonl", with_hash), mapping=mapping)
    assert t.hash_ids == ((1, 2),) and t.block_tokens == 16


def test_mapping_objects_are_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "t,in,out,gpus,run\n0,1,1,2,3\n")
    assert isinstance(load_file(path, mapping=RequestMapping("t", "in", "out")), RequestTrace)
    assert isinstance(load_file(path, mapping=JobMapping("t", "gpus", "run")), JobTrace)
    with pytest.raises(ConfigError, match="mapping is for jobs"):
        load_file(path, mapping=JobMapping("t", "gpus", "run"), kind="requests")


# --- bad rows ------------------------------------------------------------------------------------------------------

BAD_ROWS = [
    ("0,abc,1", "'in' (input tokens) is 'abc': not a number"),
    ("-1,1,1", "'t' (arrival) is '-1': a time must be >= 0"),
    ("0,-5,1", "'in' (input tokens) is '-5': must be >= 1"),
    ("0,0,1", "'in' (input tokens) is '0': must be >= 1 (a prompt has at least one token)"),
    ("0,2e7,1", "'in' (input tokens) is '2e7': must be at most 10,000,000"),
    ("1e12,1,1", "'t' (arrival) is '1e12': more than 10 years after the earliest time"),
    ("0,1", "'out' (output tokens) is None: missing"),
    ("0,1,", "'out' (output tokens) is '': missing"),
    ("0,1,0", "'out' (output tokens) is '0': must be >= 1"),
    ("0,1,-3", "'out' (output tokens) is '-3': must be >= 1"),
    ("0,1.5,1", "'in' (input tokens) is '1.5': not a whole number"),
    ("nan,1,1", "'t' (arrival) is 'nan': not a finite number"),
]


@pytest.mark.parametrize(("row", "message"), BAD_ROWS)
def test_bad_row_names_file_line_and_field(tmp_path: Path, row: str, message: str) -> None:
    path = write(tmp_path, "bad.csv", f"t,in,out\n0,1,1\n1,2,2\n{row}\n3,3,3\n")
    with pytest.raises(ConfigError) as err:
        load_trace(path, mapping=REQ)
    text = str(err.value)
    assert str(path) in text
    assert "line 4:" in text
    assert message in text
    assert "set skip_bad_rows" in text and "--" not in text  # the library names its parameter, not a CLI flag
    assert err.value.field == "skip_bad_rows"
    t = requests(path, mapping=REQ, skip_bad_rows=True)
    assert len(t) == 3 and t.skipped_rows == 1


def test_first_bad_row_is_reported_with_the_total(tmp_path: Path) -> None:
    path = write(tmp_path, "many.csv", "t,in,out\n0,1,1\n1,x,1\n2,1,0\n3,1,1\n,1,1\n")
    with pytest.raises(ConfigError, match=r"line 3: .*\(3 bad rows in all\.\)"):
        load_trace(path, mapping=REQ)
    t = requests(path, mapping=REQ, skip_bad_rows=True)
    assert t.skipped_rows == 3 and t.arrival_s.tolist() == [0.0, 3.0]


def test_skipping_rebases_time_after_dropping_the_earliest_row(tmp_path: Path) -> None:
    text = "t,in,out\n2024-01-01 00:00:00,x,1\n2024-01-01 00:00:10,1,1\n2024-01-01 00:00:12,1,1\n"
    t = requests(write(tmp_path, "r.csv", text), mapping={**REQ, "time_unit": "datetime"}, skip_bad_rows=True)
    assert t.arrival_s.tolist() == [0.0, 2.0] and t.skipped_rows == 1


def test_bad_datetime(tmp_path: Path) -> None:
    text = "t,in,out\n2024-01-01 00:00:00,1,1\n2024-13-01 00:00:00,1,1\nyesterday,1,1\n"
    path = write(tmp_path, "dt.csv", text)
    with pytest.raises(ConfigError, match=r"line 3: field 't' \(arrival\) is '2024-13-01 00:00:00': not a date-time"):
        load_trace(path, mapping={**REQ, "time_unit": "datetime"})
    t = requests(path, mapping={**REQ, "time_unit": "datetime"}, skip_bad_rows=True)
    assert len(t) == 1 and t.skipped_rows == 2


def test_bad_jsonl_lines(tmp_path: Path) -> None:
    text = (
        '{"timestamp": 0, "input_length": 1, "output_length": 1, "hash_ids": [0]}\n'
        '{"timestamp": 5, "input_length": 1, "output_length": 1, "hash_ids": [0]\n'
        "[1, 2]\n"
        '{"timestamp": 9, "input_length": "many", "output_length": 1, "hash_ids": [0]}\n'
        '{"timestamp": 9, "input_length": 3, "output_length": 1, "hash_ids": "oops"}\n'
        '{"timestamp": 10, "input_length": 3, "output_length": 1}\n'
        '{"timestamp": 11, "input_length": 3, "output_length": 2, "hash_ids": [4]}\n'
    )
    path = write(tmp_path, "bad.jsonl", text)
    with pytest.raises(ConfigError, match=r"bad\.jsonl, line 2: the row is not valid JSON"):
        load_trace(path)
    t = requests(path, skip_bad_rows=True)
    assert t.skipped_rows == 5
    assert t.hash_ids == ((0,), (4,))


def test_job_bad_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "jobs.csv", "t,gpus,run\n0,1,10\n1,0,10\n2,1,-1\n3,2,5\n")
    with pytest.raises(ConfigError, match=r"line 3: field 'gpus' \(chips\) is '0': must be >= 1"):
        load_trace(path, mapping=JOBS)
    t = jobs(path, mapping=JOBS, skip_bad_rows=True)
    assert t.skipped_rows == 2 and t.chips.tolist() == [1, 2]


# --- mapping and path errors -------------------------------------------------------------------------------------


def test_mapping_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "t,in,out\n0,1,1\n")
    with pytest.raises(ConfigError, match=r"no column 'inp'.*Did you mean 'in'"):
        load_trace(path, mapping={**REQ, "input": "inp"})
    with pytest.raises(ConfigError, match="unknown requests mapping key 'outptu'"):
        load_trace(path, mapping={**REQ, "outptu": "out"})
    with pytest.raises(ConfigError, match="lacks output"):
        load_trace(path, mapping={"arrival": "t", "input": "in"})
    with pytest.raises(ConfigError, match="time_unit 'hours' is not one of"):
        load_trace(path, mapping={**REQ, "time_unit": "hours"})
    with pytest.raises(ConfigError, match=r"cannot tell.*'arival' \(did you mean arrival"):
        load_trace(path, mapping={"arival": "t", "input": "in", "output": "out"})
    with pytest.raises(ConfigError, match="block_tokens must be a whole number"):
        load_trace(path, mapping={**REQ, "block_tokens": "lots"})
    with pytest.raises(ConfigError, match=r"describes requests .* but kind='jobs'"):
        load_trace(path, mapping=REQ, kind="jobs")
    with pytest.raises(ConfigError, match="holds requests, not jobs"):
        load_trace(
            write(tmp_path, "azure.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2024-01-01,1,1\n"), kind="jobs"
        )


def test_unknown_layout_without_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "odd.csv", "when,prompt,completion\n0,1,1\n")
    with pytest.raises(
        ConfigError, match=r"match no known trace layout.*a mapping of field to column: arrival=ts"
    ) as err:
        load_trace(path)
    assert err.value.field == "mapping" and "--" not in str(err.value)


def test_missing_files_and_unknown_names(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no trace file"):
        load_trace(tmp_path / "nope.csv")
    with pytest.raises(ConfigError, match="no trace file"):
        load_trace("nope.csv")
    with pytest.raises(UnknownNameError):
        load_trace("nope")
    with pytest.raises(ConfigError, match="empty"):
        load_trace(write(tmp_path, "empty.csv", "\n\n"), mapping=REQ)
    with pytest.raises(ConfigError, match="not a valid gzip"):
        load_trace(write(tmp_path, "broken.csv.gz", b"\x1f\x8b\x08garbage"), mapping=REQ)


# --- bad input: every class is a ConfigError that says what, why and how to fix (issue 10) ------------------------


@pytest.mark.parametrize(
    ("name", "content", "mapping", "message"),
    [
        # an empty workload
        ("h.csv", "t,in,out\n", REQ, r"no data rows \(only a header\)"),
        ("h.csv", "t,gpus,run\n\n\n", JOBS, "no data rows .* at least one of its jobs"),
        ("blank.jsonl", "\n\n", REQ, "the file is empty"),
        # zero-token prompts and absurd counts
        ("z.csv", "t,in,out\n0,0,5\n", REQ, r"line 2: field 'in' \(input tokens\) is '0': must be >= 1"),
        ("big.csv", "t,in,out\n0,1e30,5\n", REQ, "must be at most 10,000,000"),
        ("chips.csv", "t,gpus,run\n0,1e9,5\n", JOBS, "must be at most 1,000,000"),
        # trace times and durations
        ("inf.csv", "t,in,out\n0,1,1\ninf,1,1\n", REQ, "line 3: .* not a finite number"),
        ("neg.csv", "t,in,out\n0,1,1\n-1e-9,1,1\n", REQ, "line 3: .* a time must be >= 0"),
        ("far.csv", "t,in,out\n0,1,1\n1e300,1,1\n", REQ, "line 3: .* more than 10 years after .* time_unit"),
        ("ns.csv", "t,in,out\n1700000000000000000,1,1\n0,1,1\n", REQ, "more than 10 years"),
        ("y.csv", "t,in,out\n0001-01-01,1,1\n2024-01-01,1,1\n", {**REQ, "time_unit": "datetime"}, "10 years"),
        ("dur.csv", "t,gpus,run\n0,1,1e308\n", {**JOBS, "duration_unit": "h"}, "longer than 10 years"),
        ("nand.csv", "t,gpus,run\n0,1,nan\n", JOBS, "not a finite number"),
        # file encodings and shapes
        ("latin1.csv", b"t,in,out\n0,1,1\n\xe9\xff,1,1\n", REQ, "not UTF-8 text .* save the file as UTF-8"),
        ("f.csv", "t,in,out\n0,1," + "9" * 200_000 + "\n", REQ, "line 2: cannot be read as CSV"),
        ("bad.csv.gz", b"\x1f\x8bnot gzip", REQ, "not a valid gzip file"),
        ("arr.jsonl", "[0, 1, 1]\n[1, 1, 1]\n", REQ, r"no line is a JSON object .* one object per line"),
        ("mix.jsonl", '{"t": 0, "in": 1, "out": 1}\n7\n', REQ, r"line 2: the row is not a JSON object"),
        ("deep.jsonl", '{"t": 0, "in": 1, "out": 1}\n' + "[" * 100_000 + "\n", REQ, "line 2: .*JSON"),
        ("int.jsonl", '{"t": 0, "in": ' + "9" * 5000 + ', "out": 1}\n', REQ, "line 1: .*JSON"),
        ("huge.jsonl", '{"t": 0, "in": ' + "9" * 400 + ', "out": 1}\n', REQ, "an integer of 400 digits"),
        ("bool.jsonl", '{"t": true, "in": 1, "out": 1}\n', REQ, r"'t' \(arrival\) is True: not a number"),
        ("obj.jsonl", '{"t": {"s": 1}, "in": 1, "out": 1}\n', REQ, "not a number"),
        ("hash.jsonl", '{"t": 0, "in": 1, "out": 1, "h": [1e400]}\n', {**REQ, "hash_ids": "h"}, "64-bit integers"),
        ("hash2.jsonl", '{"t": 0, "in": 1, "out": 1, "h": [' + "9" * 30 + "]}\n", {**REQ, "hash_ids": "h"}, "64-bit"),
        # missing columns and mapping errors
        ("m.csv", "t,in\n0,1\n", REQ, r"no column 'out' in the header \(t, in\)"),
        ("m.csv", "t,in,outt\n0,1,1\n", REQ, "Did you mean 'outt'"),
        ("m.csv", "t,in,out\n0,1\n", REQ, "line 2: field 'out' .* missing"),
        ("m.csv", "t,in,out\n0,1,1\n", {**REQ, "time_unit": "hours"}, "time_unit 'hours' is not one of"),
        ("m.csv", "t,in,out\n0,1,1\n", {**REQ, "arival": "t"}, "unknown requests mapping key 'arival'"),
        ("m.csv", "t,in,out\n0,1,1\n", {"arrival": "t", "input": "in"}, "lacks output"),
        ("m.csv", "t,in,out\n0,1,1\n", {"in": "t"}, "cannot tell whether the mapping describes requests or jobs"),
        ("m.csv", "t,in,out\n0,1,1\n", {**REQ, "block_tokens": 10**30}, "block_tokens .* between 1 and"),
        ("m.csv", "t,in,out\n0,1,1\n", {**REQ, "block_tokens": "1.5"}, "block_tokens must be a whole number"),
    ],
)
def test_bad_files_fail_cleanly(
    tmp_path: Path, name: str, content: str | bytes, mapping: dict[str, str | int], message: str
) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(ConfigError, match=message):
        load_trace(path, mapping=mapping)


def test_every_row_skipped_is_an_error_not_an_empty_trace(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.csv", "t,in,out\nx,1,1\n1,0,1\n")
    with pytest.raises(ConfigError, match=r"all 2 rows were bad and skipped, so no requests are left \(first: line 2"):
        load_trace(path, mapping=REQ, skip_bad_rows=True)
    path = write(tmp_path, "bad.jsonl", '{"t": 0, "gpus": 0, "run": 1}\n')
    with pytest.raises(ConfigError, match="so no jobs are left"):
        load_trace(path, mapping=JOBS, skip_bad_rows=True)


def test_skipping_drops_absurd_rows_and_keeps_the_rest(tmp_path: Path) -> None:
    text = "t,in,out\n0,1,1\n1e300,1,1\n5,0,1\n7,2e7,1\n9,3,4\n"
    t = requests(write(tmp_path, "r.csv", text), mapping=REQ, skip_bad_rows=True)
    assert t.skipped_rows == 3 and t.arrival_s.tolist() == [0.0, 9.0] and t.input_tokens.tolist() == [1, 3]


def test_unsorted_arrivals_are_sorted_stably(tmp_path: Path) -> None:
    t = requests(write(tmp_path, "u.csv", "t,in,out\n5,1,1\n2,2,1\n5,3,1\n3,4,1\n"), mapping=REQ)
    assert t.arrival_s.tolist() == [0.0, 1.0, 3.0, 3.0] and t.input_tokens.tolist() == [2, 4, 1, 3]


def test_units_are_case_insensitive(tmp_path: Path) -> None:
    t = requests(write(tmp_path, "u.csv", "t,in,out\n0,1,1\n1500,1,1\n"), mapping={**REQ, "time_unit": "MS"})
    assert t.arrival_s.tolist() == [0.0, 1.5]
    j = jobs(write(tmp_path, "j.csv", "t,gpus,run\n0,1,2\n"), mapping={**JOBS, "duration_unit": "H"})
    assert j.duration_s.tolist() == [7200.0]
