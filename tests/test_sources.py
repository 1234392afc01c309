"""Each source of input keeps its own K shortest counterexamples: short probes and generated
strings never hide a corpus's lines, in the text report, ``--json`` or ``--format github``.

A source is what a line's origin and serial say it came from (:func:`source`): the probes, the
prompts, the injection lines, the Hypothesis strings, export's verification and derived lines,
each corpus file, the exhaustive lines. The keeping is the same for any split of the input
into parts merged in any order, ties broken by input order.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tokcheck.cli import main
from tokcheck.judge.outcome import EXHAUSTIVE, STRIDE, Outcome, source
from tokcheck.judge.tally import Counterexample, Shortest, shown
from tokcheck.report.examples import visible

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NEOX = str(FIXTURES / "neox-3.6b")
SHARED = Path(__file__).resolve().parents[2] / "shared"
# Corpus lines neox-3.6b's Hugging Face paths get wrong under transformers 5 (a double space,
# a tab, a kanji outside the vocabulary), all longer than the shortest probes: before each
# source kept its own, none of them was kept with the default --show.
CORPUS = [
    "吾輩は猫である。名前はまだ無い。",
    "どこで生れたか  とんと見当がつかぬ。",
    "鬱蒼\tとした森",
]


def test_the_source_of_each_origin() -> None:
    assert source("probe[3]", 3) == "probe"
    assert source("prompt[nl-tag:2]", 50) == "prompt"
    assert source("inject[0]", 80) == "inject"
    assert source("hypothesis[12]", 90) == "hypothesis"
    assert source("derived[7]", 900) == "derived"
    assert source("corpus.txt:12", STRIDE + 11) == "corpus.txt"
    assert source("data/c.parquet[4]", 2 * STRIDE + 4) == "data/c.parquet"
    # A corpus path may look like a generated origin: the serial says it is a corpus.
    assert source("probe[1].txt:3", STRIDE + 2) == "probe[1].txt"
    assert source("piece[3]", EXHAUSTIVE + 5) == "exhaustive"
    assert source("special[</s>][3]", EXHAUSTIVE + 9) == "exhaustive"


def _outcomes(n: int, seed: int = 0) -> list[Outcome]:
    """``n`` lines from five sources, in input order, of lengths 1 to 6 (many of one length)."""
    rng = random.Random(seed)
    starts = {"probe": 0, "hypothesis": 0, "a.txt": STRIDE, "b.txt": 2 * STRIDE}
    out = []
    for serial in range(n):
        name = rng.choice([*starts, "exhaustive"])
        if name == "exhaustive":
            serial_, origin = EXHAUSTIVE + serial, f"codepoint[U+{serial:04X}]"
        elif name.endswith(".txt"):
            serial_, origin = starts[name] + serial, f"{name}:{serial + 1}"
        else:
            serial_, origin = serial, f"{name}[{serial}]"
        text = "x" * rng.randint(1, 6)
        out.append(Outcome(text, origin, serial_, [1], text, [2], text))
    return out


@pytest.mark.parametrize("k", [1, 3])
def test_each_source_keeps_its_k_shortest_whatever_the_parts(k: int) -> None:
    lines = _outcomes(400)
    whole = Shortest()
    for line in lines:
        whole.offer(line, k)
    kept = whole.items()
    # K of each of the five sources, shortest first, the first in the input among equals.
    assert len(kept) == 5 * k
    for name in {line.source for line in lines}:
        own = sorted((o for o in lines if o.source == name), key=lambda o: (len(o.text), o.serial))
        assert [o for o in kept if o.source == name] == own[:k]
    assert kept == sorted(kept, key=lambda o: (len(o.text), o.serial))
    # The same from parts merged in any order (as --jobs N merges them).
    rng = random.Random(1)
    for _ in range(5):
        cuts = sorted(rng.sample(range(1, len(lines)), 6))
        parts = []
        for a, b in zip([0, *cuts], [*cuts, len(lines)], strict=True):
            part = Shortest()
            for line in lines[a:b]:
                part.offer(line, k)
            parts.append(part)
        rng.shuffle(parts)
        merged = parts[0]
        for part in parts[1:]:
            merged.merge(part, k)
        assert merged.items() == kept


def _example(origin: str, source_: str, text: str) -> Counterexample:
    return Counterexample(
        text, origin, ["mismatched"], 0, 0, [1], [2], ["a"], ["b"], text, text, source=source_
    )


def test_a_report_shows_the_k_shortest_then_the_shortest_of_every_other_source() -> None:
    examples = [
        _example("probe[0]", "probe", "a"),
        _example("probe[1]", "probe", "b"),
        _example("hypothesis[0]", "hypothesis", "cc"),
        _example("probe[2]", "probe", "ddd"),
        _example("c.txt:4", "c.txt", "eeee"),
        _example("c.txt:9", "c.txt", "fffff"),
        _example("d.txt:1", "d.txt", "gggggg"),
    ]
    origins = ["probe[0]", "probe[1]", "hypothesis[0]", "c.txt:4", "d.txt:1"]
    assert [e.origin for e in shown(examples, 2)] == origins
    assert [e.origin for e in shown(examples, 4)] == [*origins[:3], "probe[2]", *origins[3:]]
    assert [e.origin for e in shown(examples, 0)] == [o for o in origins if o != "probe[1]"]


def _corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_github_annotates_corpus_lines_with_the_default_show(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = _corpus(tmp_path)
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    argv = ["compare", NEOX, "--corpus", str(corpus), "--candidate", "default"]
    code, out = _run(capsys, *argv, "--format", "github", "--jobs", "1")
    if code == 0:
        pytest.skip("the default path tokenizes as sentencepiece on this transformers release")
    assert code == 1
    annotated: dict[int, str] = {}
    for line in out.splitlines():
        if line.startswith("::error file=corpus.txt,line="):
            at, rest = line.removeprefix("::error file=corpus.txt,line=").split(",", 1)
            annotated[int(at)] = rest.split("::", 1)[1].replace("%0A", "\n")
    # The double space (line 2) and the tab (line 3) among them, each with its own line.
    assert {2, 3} <= set(annotated), out
    for number, message in annotated.items():
        assert f"corpus.txt:{number}: {visible(CORPUS[number - 1])}\n" in message
    assert "どこで生れたか␣␣とんと見当がつかぬ。" in annotated[2]
    assert "鬱蒼⇥とした森" in annotated[3]
    # Probes and generated strings are still annotated as the failed case, without a line.
    assert any(
        line.startswith("::error title=tokcheck compare%3A default::") for line in out.splitlines()
    )

    # The text report shows the corpus's shortest line after the shortest overall; --json
    # keeps the corpus's own K (the default 5) with their origins.
    monkeypatch.setenv("COLUMNS", "200")
    code, text = _run(capsys, *argv, "--jobs", "1")
    assert f"  {corpus}:3: 鬱蒼⇥とした森\n" in text
    code, data = _run(capsys, *argv, "--jobs", "1", "--json")
    default = json.loads(data)["candidates"][0]
    kept = {e["origin"] for e in default["counterexamples"] if e["source"] == str(corpus)}
    assert kept == {f"{corpus}:{n}" for n in annotated}
    sources = [e["source"] for e in default["counterexamples"]]
    assert all(sources.count(s) <= 5 for s in sources)

    # --jobs 2 annotates the same lines with the same messages.
    code, parallel = _run(capsys, *argv, "--format", "github", "--jobs", "2")
    assert code == 1
    placed = [line for line in out.splitlines() if "file=" in line]
    assert [line for line in parallel.splitlines() if "file=" in line] == placed


LLM_JP = SHARED / "published-models" / "llm-jp-tokenizer-100k.ver3.1.model"
WAGAHAI = SHARED / "corpora" / "wagahaiwa_nekodearu.txt"


@pytest.mark.skipif(
    not (LLM_JP.is_file() and WAGAHAI.is_file()), reason="no ../shared (published model, corpus)"
)
def test_a_published_model_shows_and_annotates_its_corpus_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # LLM-jp's tokenizer, which nobody here trained, with the Hugging Face path that loads it,
    # on 吾輩は猫である with every generated source on: corpus lines are shown and annotated.
    monkeypatch.setenv("GITHUB_WORKSPACE", str(SHARED))
    monkeypatch.setenv("COLUMNS", "400")  # a line of the report is a line of the corpus
    argv = ["compare", str(LLM_JP), "--corpus", str(WAGAHAI), "--candidate", "default"]
    code, text = _run(capsys, *argv, "--jobs", "1", "--examples", "100")
    if code == 0:
        pytest.skip("the default path tokenizes as sentencepiece on this transformers release")
    lines = WAGAHAI.read_text(encoding="utf-8").splitlines()
    shown_lines = [line for line in text.splitlines() if line.startswith(f"  {WAGAHAI}:")]
    assert shown_lines, text
    number = int(shown_lines[0].removeprefix(f"  {WAGAHAI}:").split(":", 1)[0])
    assert shown_lines[0].startswith(f"  {WAGAHAI}:{number}: {visible(lines[number - 1])[:30]}")
    code, out = _run(capsys, *argv, "--jobs", "1", "--examples", "100", "--format", "github")
    prefix = "file=corpora/wagahaiwa_nekodearu.txt,line="
    annotated = [line for line in out.splitlines() if prefix in line]
    assert any(line.startswith(f"::error {prefix}{number},") for line in annotated), out
    for line in annotated:
        at = int(line.split(prefix, 1)[1].split(",", 1)[0])
        message = line.split("::", 2)[2].replace("%0A", "\n").replace("%25", "%")
        assert f"wagahaiwa_nekodearu.txt:{at}: " in message
