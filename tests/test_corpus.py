"""Corpus formats (tokcheck.inputs.corpus): text, gzip, Zstandard, JSONL and Parquet read the same
documents; bad records are skipped by position and reason; unusable files are one-line errors.

Parquet and Zstandard tests skip when the ``formats`` extra (pyarrow, zstandard) is absent.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tokcheck.cli import main
from tokcheck.compare.options import CompareOptions
from tokcheck.compare.run import compare
from tokcheck.errors import CorpusError, MissingDependencyError
from tokcheck.inputs.corpus import CorpusStats, Skipped, check_corpora, corpus_format, corpus_lines
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import resolve

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DOCS = ["吾輩は猫である", "  leading and trailing  ", "tab\tinside", "", "<s> and [UNK]"]
MULTILINE = "first line\nsecond line\n"


def _jsonl(docs: list[Any], key: str = "text") -> bytes:
    return "".join(json.dumps({key: d}) + "\n" for d in docs).encode()


def _compress(data: bytes, suffix: str) -> bytes:
    if suffix == ".gz":
        return gzip.compress(data)
    if suffix == ".zst":
        zstandard = pytest.importorskip("zstandard")
        return bytes(zstandard.ZstdCompressor().compress(data))
    return data


def _parquet(path: Path, column: Any, name: str = "text") -> Path:
    pa = pytest.importorskip("pyarrow")
    parquet = pytest.importorskip("pyarrow.parquet")
    parquet.write_table(pa.table({name: column}), path, row_group_size=2)
    return path


def _write(tmp_path: Path, name: str, docs: list[str]) -> Path:
    path = tmp_path / name
    if name.endswith(".parquet"):
        return _parquet(path, docs)
    body = _jsonl(docs) if ".jsonl" in name else "".join(d + "\n" for d in docs).encode()
    path.write_bytes(_compress(body, path.suffix))
    return path


def _read(path: Path, field: str = "text") -> tuple[list[tuple[str, str]], CorpusStats]:
    stats = CorpusStats()
    check_corpora([path], field)
    return list(corpus_lines([path], stats, field)), stats


NAMES = ["c.txt", "c.txt.gz", "c.txt.zst", "c.jsonl", "c.jsonl.gz", "c.jsonl.zst", "c.parquet"]


@pytest.mark.parametrize("name", NAMES)
def test_every_format_reads_the_same_documents(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path, name, DOCS)
    lines, stats = _read(path)
    assert [t for t, _ in lines] == DOCS
    first = f"{path}[0]" if name.endswith(".parquet") else f"{path}:1"
    assert lines[0][1] == first
    assert stats.lines == len(DOCS)
    assert stats.skipped == []
    # A file read to its end counts as its size on disk: the progress bar's total.
    assert stats.bytes == path.stat().st_size


@pytest.mark.parametrize("suffix", [".gz", ".zst"])
def test_concatenated_compressed_streams_read_whole(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"c.txt{suffix}"
    path.write_bytes(_compress(b"one\n", suffix) + _compress(b"two\n", suffix))
    assert [t for t, _ in _read(path)[0]] == ["one", "two"]


def test_format_from_suffix() -> None:
    assert corpus_format(Path("a.parquet")).kind == "parquet"
    assert corpus_format(Path("a.v2.JSONL.zst")) == corpus_format(Path("b.jsonl.zst"))
    assert corpus_format(Path("b.jsonl.zst")).compression == "zstd"
    assert corpus_format(Path("a.csv.gz")).kind == "text"
    assert corpus_format(Path("noext")).kind == "text"


@pytest.mark.parametrize("name", ["c.jsonl", "c.jsonl.gz", "c.parquet"])
def test_multiline_documents_are_judged_whole(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path, name, [MULTILINE, "one"])
    resolved = resolve(str(FIXTURES / "tiny-neox"))
    model = SentencePieceModel.load(resolved.model_file)
    report = compare(
        resolved, model, CompareOptions(corpora=[path], examples=0, prompts=0, probes=False)
    )
    assert report.inputs["lines"] == report.inputs["corpus_lines"] == 2
    assert [t for t, _ in _read(path)[0]] == [MULTILINE, "one"]


def test_bad_jsonl_records_are_reported_by_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(
        b'{"text": "ok"}\n'
        b'{"text": "\xff\xfe"}\n'
        b"{not json\n"
        b"\n"  # a blank line is no record
        b'["text"]\n'
        b'{"body": "x"}\n'
        b'{"text": null}\n'
        b'{"text": 3}\n'
        b'{"text": "\\ud800"}\n'
        b'{"text": "last"}'
    )
    lines, stats = _read(path)
    assert lines == [("ok", f"{path}:1"), ("last", f"{path}:10")]
    assert [(s.position, s.reason) for s in stats.skipped] == [
        (2, "not UTF-8"),
        (3, "invalid JSON"),
        (5, "not a JSON object"),
        (6, "no field 'text'"),
        (7, "field 'text' is null"),
        (8, "field 'text' is not a string"),
        (9, "field 'text' is not UTF-8"),
    ]


def test_bad_parquet_rows_are_reported_by_row(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "c.parquet", [b"ok", None, b"\xff bad", b"last"])
    lines, stats = _read(path)
    assert lines == [("ok", f"{path}[0]"), ("last", f"{path}[3]")]
    assert stats.skipped == [
        Skipped(str(path), 1, "column 'text' is null", "row"),
        Skipped(str(path), 2, "column 'text' is not a string", "row"),
    ]
    assert stats.skipped[0].to_dict() == {
        "path": str(path),
        "row": 1,
        "reason": "column 'text' is null",
    }


def test_field_names_the_key_or_column(tmp_path: Path) -> None:
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_bytes(_jsonl(["a", "b"], key="content"))
    assert [t for t, _ in _read(jsonl, "content")[0]] == ["a", "b"]
    assert [s.reason for s in _read(jsonl)[1].skipped] == ["no field 'text'"] * 2
    parquet = _parquet(tmp_path / "c.parquet", ["a", "b"], name="content")
    assert [t for t, _ in _read(parquet, "content")[0]] == ["a", "b"]


def _compare_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    base = ["compare", str(FIXTURES / "tiny-neox"), "--examples", "0", "--prompts", "0"]
    code = main([*base, *argv, "--json"])
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert code == (0 if report["passed"] else 1)
    return report


def _counts(report: dict[str, Any]) -> list[dict[str, Any]]:
    drop = {"counterexamples", "ties"}
    return [{k: v for k, v in c.items() if k not in drop} for c in report["candidates"]]


def test_cli_jsonl_and_parquet_count_as_the_plain_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pyarrow.parquet")
    text = _compare_json(capsys, "--corpus", str(_write(tmp_path, "c.txt", DOCS)))
    assert text["inputs"]["corpus_lines"] == len(DOCS)
    for name in ("c.jsonl.gz", "c.parquet"):
        other = _compare_json(capsys, "--corpus", str(_write(tmp_path, name, DOCS)))
        assert other["inputs"]["corpus_lines"] == len(DOCS)
        assert other["inputs"]["lines"] == text["inputs"]["lines"]
        assert other["inputs"]["bytes"] == text["inputs"]["bytes"]
        assert _counts(other) == _counts(text)


def test_progress_counts_a_compressed_file_up_to_its_size(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.txt.gz", [f"line {i} " * 20 for i in range(5000)])
    resolved = resolve(str(FIXTURES / "tiny-neox"))
    model = SentencePieceModel.load(resolved.model_file)
    advances: list[int] = []
    compare(
        resolved,
        model,
        CompareOptions(
            corpora=[path],
            examples=0,
            prompts=0,
            probes=False,
            candidates=["sentencepiece-backend"],
        ),
        progress=advances.append,
    )
    assert len(advances) > 1
    assert min(advances) >= 0
    assert sum(advances) == path.stat().st_size


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], corpus: Path, *argv: str) -> str:
    code = main(["compare", str(FIXTURES / "tiny-neox"), "--corpus", str(corpus), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    return err


def test_unusable_files_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "fake.jsonl.gz"
    fake.write_bytes(b'{"text": "not compressed"}\n')
    assert "not a gzip file, as its suffix says" in _one_line_exit_2(capsys, fake)
    parquet = _parquet(tmp_path / "c.parquet", ["a"], name="body")
    err = _one_line_exit_2(capsys, parquet)
    assert "no column 'text' (columns: body); name one with --field" in err
    numbers = _parquet(tmp_path / "n.parquet", [1, 2])
    assert "column 'text' is int64, not text" in _one_line_exit_2(capsys, numbers)
    not_parquet = tmp_path / "x.parquet"
    not_parquet.write_text("PAR1 but no footer")
    assert "cannot read Parquet corpus" in _one_line_exit_2(capsys, not_parquet)


def test_a_stream_that_breaks_off_is_an_error_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "cut.txt.gz"
    data = gzip.compress("".join(f"line {i * i}\n" for i in range(50_000)).encode())
    path.write_bytes(data[: len(data) // 2])
    check_corpora([path])  # the header is fine
    with pytest.raises(CorpusError, match=r"cut\.txt\.gz: corrupt gzip stream after line \d+"):
        list(corpus_lines([path], CorpusStats()))


@pytest.mark.parametrize(
    ("name", "module"),
    [("c.parquet", "pyarrow.parquet"), ("c.txt.zst", "zstandard")],
    ids=["parquet", "zstd"],
)
def test_missing_extra_is_named(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    module: str,
) -> None:
    path = _write(tmp_path, name, DOCS)
    monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'tokcheck\[formats\]'$"):
        check_corpora([path])
    assert "tokcheck[formats]" in _one_line_exit_2(capsys, path)


# Records that Python's JSON reader raises on: an integer past its digit limit, nesting past its
# recursion limit. They are data like any other bad record: skipped and listed, never fatal.
HOSTILE = (
    b'{"text": "ok"}\n'
    b'{"text": "big", "n": ' + b"7" * 5000 + b"}\n"
    b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    b'{"text": "last"}\n'
)
HOSTILE_REASONS = [
    (2, "JSON that cannot be read: Exceeds the limit (4300 digits) for integer string conversion"),
    (3, "JSON nested too deep"),
]


def _hostile(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(_compress(HOSTILE, path.suffix))
    return path


def _reasons(skipped: list[Any]) -> list[tuple[int, str]]:
    return [
        (s["line"], s["reason"][: len(r)])
        for s, (_, r) in zip(skipped, HOSTILE_REASONS, strict=True)
    ]


@pytest.mark.parametrize("name", ["c.jsonl", "c.jsonl.gz", "c.jsonl.zst"])
def test_records_python_cannot_read_are_skipped(tmp_path: Path, name: str) -> None:
    path = _hostile(tmp_path, name)
    lines, stats = _read(path)
    assert lines == [("ok", f"{path}:1"), ("last", f"{path}:4")]
    assert len(stats.skipped) == 2
    got = [s.to_dict() for s in stats.skipped]
    assert _reasons(got) == HOSTILE_REASONS


def _unconvertible(path: Path) -> Path:
    """A Parquet string column whose row 1 is not UTF-8 (written without validation):
    converting its batch raises UnicodeDecodeError."""
    pa = pytest.importorskip("pyarrow")
    column = pa.array([b"ok", b"\xff\xfe", b"last"], type=pa.binary()).view(pa.string())
    return _parquet(path, column)


def test_parquet_values_pyarrow_cannot_convert_are_skipped(tmp_path: Path) -> None:
    path = _unconvertible(tmp_path / "c.parquet")
    lines, stats = _read(path)
    assert lines == [("ok", f"{path}[0]"), ("last", f"{path}[2]")]
    assert [(s.position, s.unit) for s in stats.skipped] == [(1, "row")]
    assert stats.skipped[0].reason.startswith("column 'text' cannot be read: UnicodeDecodeError")


@pytest.mark.parametrize("command", ["compare", "gate"])
def test_hostile_records_through_the_cli_and_workers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    pytest.importorskip("zstandard")
    corpora = [str(_hostile(tmp_path, n)) for n in ("a.jsonl", "b.jsonl.gz", "c.jsonl.zst")]
    corpora.append(str(_unconvertible(tmp_path / "d.parquet")))
    argv = [command, str(FIXTURES / "tiny-neox"), "--examples", "1", "--json"]
    argv += [a for c in corpora for a in ("--corpus", c)]
    argv += ["--no-profile"] if command == "gate" else []
    reports = []
    for jobs in ("1", "2"):
        code = main([*argv, "--jobs", jobs])
        out, err = capsys.readouterr()
        assert code in (0, 1), err
        report = json.loads(out)
        reports.append(report if command == "compare" else report["compare"])
    one, two = reports
    assert two["engine"] == "local, 2 processes"
    skipped = one["inputs"]["skipped_lines"]
    assert [s["path"] for s in skipped] == [c for c in corpora[:3] for _ in (1, 2)] + corpora[3:]
    for k in range(3):
        assert _reasons(skipped[2 * k : 2 * k + 2]) == HOSTILE_REASONS
    assert skipped[-1]["row"] == 1
    assert skipped[-1]["reason"].startswith("column 'text' cannot be read: UnicodeDecodeError")
    for report in (one, two):
        for timing in ("elapsed_s", "lines_per_s", "mb_per_s", "engine"):
            report.pop(timing)
    assert one == two


def test_hostile_records_on_the_dask_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("distributed")
    path = _hostile(tmp_path, "c.jsonl")
    argv = ["compare", str(FIXTURES / "tiny-neox"), "--examples", "0", "--prompts", "0"]
    argv += ["--corpus", str(path), "--json", "--engine", "dask", "--jobs", "1"]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    report = json.loads(out)
    assert report["engine"].startswith("dask")
    assert _reasons(report["inputs"]["skipped_lines"]) == HOSTILE_REASONS
    assert report["inputs"]["corpus_lines"] == 2
