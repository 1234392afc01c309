"""The transformers.js candidates: a tokenizer.json run by transformers.js's tokenizer library
in node, judged by the one judge. They skip where node or the npm package is absent (CI installs
both; see .ci/run)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tokcheck.candidates import bridge, jsruntime
from tokcheck.cli import main
from tokcheck.compare.options import CompareOptions
from tokcheck.compare.run import compare
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import resolve

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _runtime() -> str | None:
    try:
        jsruntime.find_package()
        return jsruntime._node()
    except jsruntime.RuntimeUnavailable as e:
        return str(e)


_MISSING = _runtime()
needs_js = pytest.mark.skipif(
    _MISSING is not None and not _MISSING.startswith("/"), reason=f"{_MISSING}"
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for name in ("tiny-neox", "bpe-32k"):
        target = tmp_path_factory.mktemp("js") / name
        assert main(["export", str(FIXTURES / name), str(target), "--examples", "50"]) == 0
        out[name] = target
    return out


def _report(model: Path, *candidates: str, **kwargs: Any) -> dict[str, dict[str, Any]]:
    resolved = resolve(str(model))
    sp = SentencePieceModel.load(resolved.model_file)
    kwargs.setdefault("examples", 100)
    report = compare(resolved, sp, CompareOptions(candidates=list(candidates), **kwargs))
    return {c["name"]: c for c in report.to_dict()["candidates"]}


@needs_js
def test_transformers_js_drops_unigram_byte_fallback(exported: dict[str, Path]) -> None:
    """On a rinna-flag unigram model (byte fallback on) transformers.js's Unigram has no byte
    fallback: a character no piece holds becomes the unknown piece, where sentencepiece writes
    its bytes. The exported tokenizer, run by the Rust library, gives sentencepiece's ids."""
    got = _report(exported["tiny-neox"], "transformers.js", "exported")
    js, rust = got["transformers.js"], got["exported"]
    assert js["verdict"] == "failed"
    assert js["unk_introduced"] > 0
    example = next(c for c in js["counterexamples"] if "unk_introduced" in c["kinds"])
    assert any(p.startswith("<0x") for p in example["reference_pieces"])
    assert "[UNK]" in example["candidate_pieces"] or "<unk>" in example["candidate_pieces"]
    assert rust["mismatched"] == 0
    assert str(js["class"]).startswith("@huggingface/tokenizers ")


@needs_js
def test_exported_bpe_runs_in_transformers_js_with_sentencepiece_ids(
    exported: dict[str, Path],
) -> None:
    """The BPE export's boundaries inside names (``I`` before ``M`` in bpe-32k) are empty
    removed matches, which transformers.js runs; a MergedWithPrevious split, which it does not,
    made ``IM`` three pieces there. What is left are the runtime's own two faults: an added
    token's name in text is taken for the token (tokenizers.js has no split_special_tokens),
    and a decode drops a U+FEFF that starts a run of byte pieces."""
    model = SentencePieceModel.load(exported["bpe-32k"] / "tokenizer.model")
    tok = (exported["bpe-32k"] / "tokenizer.json").read_text("utf-8")
    js = jsruntime.candidate("transformers.js", tok, {})
    texts = ["IM", "xIM AIM", "<s>[INST] IM </s>", "吾輩は猫である。"]
    assert js.encode_batch(texts) == model.processor.encode(texts)
    got = _report(exported["bpe-32k"], "transformers.js")["transformers.js"]
    for example in got["counterexamples"]:
        if "mismatched" in example["kinds"]:
            assert "<pad>" in example["candidate_pieces"]
        else:
            assert "\ufeff" in str(example["reference_decoded"])
            assert "\ufeff" not in str(example["candidate_decoded"])


@needs_js
def test_a_merged_with_previous_split_is_not_what_transformers_js_runs() -> None:
    """Why the export writes no MergedWithPrevious split: transformers.js isolates the match."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"a": 0, "b": 1, "ab": 2, "xa": 3}, unk_token="a"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("a(?=b)"), behavior="merged_with_previous")
    js = jsruntime.candidate("transformers.js", tok.to_str(), {})
    assert tok.encode("xab").ids == [3, 1]
    assert js.encode_batch(["xab"]) != [[3, 1]]


@needs_js
def test_forked_workers_start_their_own_node(exported: dict[str, Path], tmp_path: Path) -> None:
    """compare --jobs 2 forks workers after loading: each must talk to a node of its own (a
    shared pipe would interleave answers). The report is the one --jobs 1 gives."""
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(f"行{i} IM 吾輩は猫\t{i}" for i in range(3000)), encoding="utf-8")
    runs = [
        _report(
            exported["bpe-32k"],
            "transformers.js",
            corpora=[corpus],
            probes=False,
            prompts=0,
            examples=0,
            jobs=jobs,
        )["transformers.js"]
        for jobs in (1, 2)
    ]
    assert runs[0]["lines"] == runs[1]["lines"] == 3000
    assert runs[0] == runs[1]


@needs_js
def test_exported_transformers_js_runs_what_export_writes_for_it() -> None:
    """The byte-level form of a rinna-flag model, built in memory and run in transformers.js:
    sentencepiece's ids (ties aside), where the plain export there loses byte fallback."""
    got = _report(FIXTURES / "tiny-neox", "exported-transformers.js", "exported")
    assert got["exported-transformers.js"]["mismatched"] == 0
    assert got["exported-transformers.js"]["lines"] == got["exported"]["lines"]


def test_exported_transformers_js_does_not_apply_to_a_charsmap_model(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["compare", str(FIXTURES / "tiny-legacy"), "--candidate", "exported-transformers.js"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "charsmap" in err


@needs_js
def test_a_tokenizer_json_transformers_js_cannot_load_fails_in_one_short_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The nmt_nfkc export's normaliser uses ``\\K``, which JavaScript has not: loading fails,
    and the reason is short (tokenizers.js quotes the whole, megabyte-long pattern)."""
    out = tmp_path / "legacy"
    assert main(["export", str(FIXTURES / "tiny-legacy"), str(out), "--examples", "20"]) == 0
    capsys.readouterr()
    assert main(["compare", str(out), "--candidate", "transformers.js", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["load_failures"] == ["transformers.js"]
    (failure,) = report["unavailable"]
    assert failure["failed"]
    assert "Invalid" in failure["reason"]
    assert len(failure["reason"]) < 500


def test_without_the_package_the_candidate_is_refused_with_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(jsruntime.NODE_MODULES_ENV, str(tmp_path))
    code = main(["compare", str(FIXTURES / "tiny-neox"), "--candidate", "exported-transformers.js"])
    err = capsys.readouterr().err
    assert code == 2
    assert jsruntime.INSTALL in err
    assert len(err.strip().splitlines()) == 1


def test_without_node_the_candidate_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    code = main(["compare", str(FIXTURES / "tiny-neox"), "--candidate", "exported-transformers.js"])
    err = capsys.readouterr().err
    assert code == 2
    assert "node is not installed" in err
    assert len(err.strip().splitlines()) == 1


def test_the_bridge_script_ships_inside_the_package() -> None:
    assert jsruntime._SCRIPT.is_file()
    assert os.access(jsruntime._SCRIPT, os.R_OK)


def _fake_package(root: Path, main: str) -> Path:
    """A node_modules folder whose @huggingface/tokenizers runs ``main`` when loaded."""
    package = root / "node_modules" / jsruntime.PACKAGE
    package.mkdir(parents=True)
    (package / "package.json").write_text('{"name": "x", "version": "0.0.0", "main": "i.js"}')
    (package / "i.js").write_text(main)
    return root / "node_modules"


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
@pytest.mark.parametrize(
    ("main_js", "said"),
    [
        ("throw new Error('boom');", "cannot load"),
        ("module.exports = {};", "exports no Tokenizer class"),
        ("console.log('garbage'); module.exports = {Tokenizer: class {}};", "is not Node.js"),
        ("while (true) {}", "did not answer in"),
    ],
    ids=["throws", "no-class", "prints", "hangs"],
)
def test_a_broken_package_is_one_line_and_exit_2_never_a_hang(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    main_js: str,
    said: str,
) -> None:
    monkeypatch.setenv(jsruntime.NODE_MODULES_ENV, str(_fake_package(tmp_path, main_js)))
    monkeypatch.setattr(bridge, "SILENCE", 2.0)
    for args in (
        ["compare", str(FIXTURES / "tiny-neox"), "--candidate", "exported-transformers.js"],
        [
            "export",
            str(FIXTURES / "tiny-neox"),
            str(tmp_path / "out"),
            "--target",
            "transformers.js",
        ],
    ):
        code = main(args)
        err = capsys.readouterr().err
        assert code == 2, err
        assert said in err
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@needs_js
def test_a_node_that_is_not_node_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ``node`` on PATH that echoes its input (``cat``) answers what the bridge never would."""
    fake = tmp_path / "node"
    fake.write_text("#!/bin/sh\nexec cat\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    code = main(["compare", str(FIXTURES / "tiny-neox"), "--candidate", "exported-transformers.js"])
    err = capsys.readouterr().err
    assert code == 2
    assert "is not Node.js running tokcheck's transformers.js bridge" in err


def _fake_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    fake = tmp_path / "bin" / "node"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\n{body}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")


@needs_js
@pytest.mark.parametrize(
    ("body", "limit", "said"),
    [
        ('while true; do printf " "; sleep 0.2; done', "ANSWER_SECONDS", "did not answer in 2 s"),
        ('exec tr -d "\\n" < /dev/zero', "MAX_ANSWER", "without ending its answer"),
    ],
    ids=["trickles", "floods"],
)
def test_a_node_that_never_ends_its_answer_is_cut_off(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    body: str,
    limit: str,
    said: str,
) -> None:
    """Never silent, so the silence limit alone would wait for ever (or fill the memory)."""
    _fake_node(tmp_path, monkeypatch, body)
    monkeypatch.setattr(bridge, limit, 2.0 if limit == "ANSWER_SECONDS" else 1 << 20)
    code = main(["compare", str(FIXTURES / "tiny-neox"), "--candidate", "exported-transformers.js"])
    err = capsys.readouterr().err
    assert code == 2
    assert said in err


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_node_dies_with_tokcheck_even_when_stuck_and_tokcheck_is_killed(tmp_path: Path) -> None:
    """SIGKILL gives tokcheck no chance to close the pipe, and a stuck node never reads it:
    the bridge's watchdog thread ends node when its parent is gone."""
    modules = _fake_package(tmp_path, "while (true) {}")
    env = {**os.environ, jsruntime.NODE_MODULES_ENV: str(modules)}
    args = ["compare", str(FIXTURES / "tiny-neox"), "--candidate", "exported-transformers.js"]
    run = subprocess.Popen([sys.executable, "-m", "tokcheck", *args], env=env)
    marker = str(modules)

    def nodes() -> list[str]:
        found = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
        return found.stdout.split()

    deadline = time.monotonic() + 60
    while not nodes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert nodes(), "node started"
    run.send_signal(signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 10
    while nodes() and time.monotonic() < deadline:
        time.sleep(0.2)
    left = nodes()
    subprocess.run(["pkill", "-KILL", "-f", marker], check=False)  # not left spinning on failure
    assert left == []


@needs_js
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_node_that_crashes_mid_run_fails_that_candidate_alone(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    jobs: str,
) -> None:
    """tokenizers.js, wrapped so that node kills itself with SIGSEGV on one corpus line: the
    candidate fails, named by the signal and the line, and the others are judged (exit 1)."""
    from tokcheck.compare import run as compare_module

    real = json.dumps(str(jsruntime.find_package()))
    wrapper = (
        f"const real = require({real});\n"
        "class Tokenizer extends real.Tokenizer {\n"
        "  encode(text, options) {\n"
        '    if (text.includes("\\u2620")) process.kill(process.pid, "SIGSEGV");\n'
        "    return super.encode(text, options);\n"
        "  }\n"
        "}\n"
        "module.exports = { ...real, Tokenizer };\n"
    )
    monkeypatch.setenv(jsruntime.NODE_MODULES_ENV, str(_fake_package(tmp_path, wrapper)))
    monkeypatch.setattr(compare_module, "MIN_PART", 4_000)  # parts for both workers
    lines = [f"line {n}: 吾輩は猫である the cat" for n in range(1, 401)]
    lines[149] += " \u2620"
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["compare", str(FIXTURES / "tiny-neox"), "--candidate", "exported"]
    args += ["--candidate", "exported-transformers.js", "--corpus", str(corpus), "--jobs", jobs]
    code = main([*args, "--examples", "20", "--json"])
    out, err = capsys.readouterr()
    assert (code, err) == (1, "")
    data = json.loads(out)
    assert [(c["name"], c["verdict"]) for c in data["candidates"]] == [("exported", "passed")]
    [crash] = data["unavailable"]
    assert (crash["name"], crash["crashed"]) == ("exported-transformers.js", True)
    assert crash["reason"].startswith(
        f"crashed: transformers.js (node) ended while encoding {corpus}:150 ('line 150: "
    )
    assert crash["reason"].endswith(": signal 11 (SIGSEGV)")
    assert data["load_failures"] == ["exported-transformers.js"]
