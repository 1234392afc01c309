"""A runtime whose process dies mid-run (a segfault, an abort, an OOM kill) is that candidate's
failure, not the end of the run: compare judges the others, reports the candidate as failed with
how its runtime ended and the line it died on, and exits 1, with one process or with workers.

The runtime here is a real child process behind the real :class:`Bridge`: a small Python program
that tokenizes with sentencepiece (so it would pass) and kills itself with SIGSEGV on a chosen
input. It stands in for transformers.js (the registry's loader is replaced), so no node is needed;
``tests/test_transformers_js.py`` and ``tests/test_gguf.py`` do the same with node and llama.cpp.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tokcheck.candidates import registry
from tokcheck.candidates.base import Candidate
from tokcheck.candidates.bridge import Bridge
from tokcheck.cli import main
from tokcheck.compare import run as compare_module
from tokcheck.errors import RuntimeDied, TokcheckError
from tokcheck.inputs.probes import BUILTIN_PROBES
from tokcheck.judge.stream import Streamer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MODEL = FIXTURES / "tiny-neox"
# The fake runtime dies on a text holding this, in the request named by $FAKE_DIES_ON.
MARK = "\u2620"

_CHILD = r"""
import json, os, signal, sys

import sentencepiece

from tokcheck.judge.stream import prefix_read_offsets

MARK = "\u2620"
# "encode", "decode" or "stream": the request it dies on, on a text holding MARK; "load": at
# once; "batch": any encode of over 3 texts (a death that no single text causes).
DIES_ON = os.environ.get("FAKE_DIES_ON", "")
sp = None


def die():
    sys.stderr.write("fake runtime: about to crash\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGSEGV)


def answer(request):
    global sp
    if "load" in request:
        if DIES_ON == "load":
            die()
        sp = sentencepiece.SentencePieceProcessor(model_file=request["load"])
        return {"ready": True}
    if "encode" in request:
        texts = request["encode"]
        if DIES_ON == "batch" and len(texts) > 3 or DIES_ON == "encode" and any(MARK in t for t in texts):
            die()
        return {"ids": [sp.encode(t) for t in texts]}
    if "decode" in request:
        texts = [sp.decode(ids) for ids in request["decode"]]
        if DIES_ON == "decode" and any(MARK in t for t in texts):
            die()
        return {"texts": texts}
    if "pieces" in request:
        return {"pieces": [sp.id_to_piece(i) for i in request["pieces"]]}
    if "stream" in request:
        out = []
        for start, ids in request["stream"]:
            if DIES_ON == "stream" and MARK in sp.decode(ids):
                die()
            out.append(prefix_read_offsets(sp.decode, ids, start))
        return {"chunks": out}
    return {"error": "unknown request"}


for line in sys.stdin:
    sys.stdout.write(json.dumps(answer(json.loads(line))) + "\n")
    sys.stdout.flush()
"""


@pytest.fixture
def child(tmp_path: Path) -> list[str]:
    script = tmp_path / "fake_runtime.py"
    script.write_text(_CHILD, encoding="utf-8")
    return [sys.executable, str(script)]


def _bridge(child: list[str]) -> Bridge:
    load = {"load": str(MODEL / "spiece.model")}
    return Bridge(child, load, runtime="fake runtime", program="not the fake", died=TokcheckError)


@pytest.fixture
def fake(child: list[str], monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Makes ``transformers.js`` the fake runtime, dying on what the argument names."""

    def load(directory: Path, resolved: Any, model: Any) -> Candidate:
        bridge = _bridge(child)

        def decode_batch(batch: list[list[int]]) -> list[str]:
            return list(bridge.request(decode=batch))

        return Candidate(
            name="transformers.js",
            cls="a fake runtime in a child process",
            encode_batch=lambda texts: list(bridge.request(encode=texts)),
            decode_batch=decode_batch,
            pieces=lambda ids: list(bridge.request(pieces=list(ids))),
            special_ids=frozenset(),
            key="fake-runtime",
            streamer=Streamer(
                decode=lambda ids: decode_batch([list(ids)])[0],
                decode_batch=decode_batch,
                offsets=lambda ids, start: list(bridge.request(stream=[[start, list(ids)]])[0]),
            ),
        )

    def dies_on(what: str) -> None:
        monkeypatch.setenv("FAKE_DIES_ON", what)

    monkeypatch.setitem(registry._LOADERS, "transformers.js", load)
    # Many small parts, so that --jobs 2 spreads the corpus over both workers.
    monkeypatch.setattr(compare_module, "MIN_PART", 4_000)
    return dies_on


def _corpus(tmp_path: Path, marked: tuple[int, ...]) -> Path:
    """600 lines; those numbered ``marked`` (from 1) hold the mark."""
    lines = [f"line {n}: 吾輩は猫である the cat sat" for n in range(1, 601)]
    for n in marked:
        lines[n - 1] += f" {MARK} here"
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _compare(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    argv = ["compare", str(MODEL), "--candidate", "exported", "--candidate", "transformers.js"]
    code = main([*argv, "--examples", "20", "--json", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def test_the_fake_runtime_passes_when_it_does_not_die(
    fake: Callable[[str], None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The control: what the crash takes away is a pass."""
    fake("nothing")
    code, data, err = _compare(capsys, "--corpus", str(_corpus(tmp_path, (450,))))
    assert (code, err) == (0, "")
    assert {c["name"]: c["verdict"] for c in data["candidates"]} == {
        "exported": "passed",
        "transformers.js": "passed",
    }


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_runtime_that_dies_on_a_corpus_line_fails_alone(
    fake: Callable[[str], None], tmp_path: Path, capsys: pytest.CaptureFixture[str], jobs: str
) -> None:
    """The line named is the first it dies on in input order, with one process or with two
    workers that each meet a marked line."""
    fake("encode")
    corpus = _corpus(tmp_path, (450, 120, 590))
    code, data, err = _compare(capsys, "--corpus", str(corpus), "--jobs", jobs)
    assert (code, err) == (1, "")
    assert data["verdict"] == "failed"
    # The other candidate is judged on every line, the corpus's included.
    [exported] = data["candidates"]
    assert (exported["name"], exported["verdict"]) == ("exported", "passed")
    assert exported["lines"] == data["inputs"]["lines"] > 600
    assert data["inputs"]["corpus_counts"] == [{"path": str(corpus), "judged": 600, "skipped": 0}]
    [crash] = data["unavailable"]
    assert data["load_failures"] == ["transformers.js"]
    assert (crash["name"], crash["failed"], crash["crashed"]) == ("transformers.js", True, True)
    assert crash["reason"] == (
        f"crashed: fake runtime ended while encoding {corpus}:120 ('line 120: 吾輩は猫である the "
        f"cat sat {MARK} here'): signal 11 (SIGSEGV): fake runtime: about to crash"
    )
    assert "transformers.js" in data["next_step"]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_text_report_names_the_crash_and_the_verdict_fails(
    fake: Callable[[str], None],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    jobs: str,
) -> None:
    fake("encode")
    monkeypatch.setenv("COLUMNS", "1000")  # no line wrapped
    corpus = _corpus(tmp_path, (300,))
    args = ["compare", str(MODEL), "--candidate", "exported", "--candidate", "transformers.js"]
    code = main([*args, "--examples", "20", "--corpus", str(corpus), "--jobs", jobs])
    out, err = capsys.readouterr()
    assert (code, err) == (1, "")
    assert (
        f"FAIL: transformers.js: crashed: fake runtime ended while encoding {corpus}:300 (" in out
    )
    assert "Traceback" not in out
    assert out.rstrip().splitlines()[-1].startswith("failed")


@pytest.mark.parametrize(
    ("dies_on", "doing"),
    [("decode", "decoding"), ("stream", "streaming")],
)
def test_a_death_while_decoding_or_streaming_names_that(
    fake: Callable[[str], None],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    dies_on: str,
    doing: str,
) -> None:
    fake(dies_on)
    corpus = _corpus(tmp_path, (77,))
    code, data, _ = _compare(capsys, "--corpus", str(corpus), "--jobs", "2")
    assert code == 1
    [crash] = data["unavailable"]
    assert crash["reason"].startswith(f"crashed: fake runtime ended while {doing} {corpus}:77 (")
    assert "signal 11 (SIGSEGV)" in crash["reason"]
    assert [c["name"] for c in data["candidates"]] == ["exported"]


def test_a_death_on_a_generated_line_names_it(
    fake: Callable[[str], None], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No corpus: the probes, prompts and generated strings, judged in this process."""
    fake("encode")
    probe = next(i for i, p in enumerate(BUILTIN_PROBES) if p.strip() and "\n" not in p)
    monkeypatch.setattr(
        compare_module,
        "BUILTIN_PROBES",
        [*BUILTIN_PROBES[:probe], BUILTIN_PROBES[probe] + MARK, *BUILTIN_PROBES[probe + 1 :]],
    )
    code, data, _ = _compare(capsys)
    assert code == 1
    [crash] = data["unavailable"]
    assert f"ended while encoding probe[{probe}] (" in crash["reason"]
    assert [c["name"] for c in data["candidates"]] == ["exported"]


def test_a_runtime_that_dies_loading_keeps_failing_to_load(
    fake: Callable[[str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    """A death at load is what it was before: a load failure (exit 1), not a crash."""
    fake("load")
    code, data, _ = _compare(capsys)
    assert code == 1
    [failure] = data["unavailable"]
    assert (failure["failed"], failure["crashed"]) == (True, False)
    assert failure["reason"].startswith(
        "failed to load: TokcheckError: fake runtime ended: signal 11"
    )


# --- the bridge itself ---------------------------------------------------------------------------


def test_the_bridge_names_the_item_it_died_on_and_stays_dead(
    child: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_DIES_ON", "encode")
    bridge = _bridge(child)
    assert len(bridge.request(encode=["a", "b"])) == 2
    with pytest.raises(RuntimeDied) as died:
        bridge.request(encode=["a", "b", f"c {MARK}", "d"])
    error = died.value
    assert (error.index, error.doing, error.stale) == (2, "encoding", False)
    assert error.how == f"signal {int(signal.SIGSEGV)} (SIGSEGV): fake runtime: about to crash"
    assert str(error) == f"fake runtime ended: {error.how}"
    with pytest.raises(RuntimeDied) as again:
        bridge.request(decode=[[5]])
    assert (again.value.stale, again.value.index) == (True, None)
    assert again.value.reason("anywhere") == str(error)


def test_a_death_no_single_item_causes_leaves_the_item_unknown(
    child: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_DIES_ON", "batch")
    bridge = _bridge(child)
    with pytest.raises(RuntimeDied) as died:
        bridge.request(encode=["a", "b", "c", "d", "e"])
    assert died.value.index is None
    assert died.value.reason("a batch") == (
        f"fake runtime ended while encoding a batch: {died.value.how}"
    )


def test_the_children_of_a_dead_bridge_are_gone(
    child: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fresh child that named the item is stopped too: nothing is left running."""
    monkeypatch.setenv("FAKE_DIES_ON", "batch")
    bridge = _bridge(child)
    with pytest.raises(RuntimeDied):
        bridge.request(encode=["a", "b", "c", "d", "e"])
    proc = bridge._proc
    assert proc is not None
    assert proc.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(proc.pid, 0)
