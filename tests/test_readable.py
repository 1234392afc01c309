"""The text report's counterexamples read as text: whitespace and invisible characters shown,
pieces separated with ``|``, the first differing piece marked, a tie said in words, every line
within the terminal's width; ``--json`` keeps the raw strings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tokcheck.candidates.hf import from_tokenizers
from tokcheck.candidates.registry import load_candidates
from tokcheck.cli import main
from tokcheck.convert.converter import build_tokenizer
from tokcheck.judge.tally import Counterexample
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import resolve
from tokcheck.parallel.runner import judge_lines
from tokcheck.report import terminal
from tokcheck.report.examples import counterexample, pieces, visible
from tokcheck.report.render import counterexamples

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NEOX = FIXTURES / "neox-3.6b"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("吾輩は猫", "吾輩は猫"),
        ("a b", "a b"),  # a single space between words is plain
        ("  吾輩は\t猫", "␣␣吾輩は⇥猫"),
        ("a  b ", "a␣␣b␣"),
        ("x\n y", "x↵␣y"),
        ("\x00\x1b\r\x7f", "␀␛␍␡"),
        ("\x85\u200b\u202e\ufeff", "\\x85\\u200b\\u202e\\ufeff"),
        ("全角\u3000空白\xa0", "全角\\u3000空白\\xa0"),
        ("\U000f0000\ud800", "\\U000f0000\\ud800"),
        ("␣ and ↵", "\\u2423 and \\u21b5"),  # the symbols themselves, escaped
        ("\u0301e", "\\u0301e"),  # a combining mark first would combine with what precedes
        ("e\u0301", "e\u0301"),
        ("", ""),
    ],
)
def test_visible_whitespace(text: str, shown: str) -> None:
    assert visible(text) == shown


def test_pieces_are_separated_and_the_first_difference_marked() -> None:
    assert visible("a b", spaces=True) == "a␣b"
    assert pieces(["▁吾輩", "は", "猫"], 1) == "▁吾輩 | »は« | 猫"
    assert pieces(["a b", "\t", ""]) == "a␣b | ⇥ | (empty)"
    assert pieces([]) == "(none)"


@pytest.fixture(scope="module")
def bilingual() -> SentencePieceModel:
    return SentencePieceModel.load(FIXTURES / "bilingual-4b" / "spiece.model")


def test_a_tie_is_said_in_words(bilingual: SentencePieceModel) -> None:
    # jjjjj: jj jj j to sentencepiece, j jj jj to the exported tokenizer, the same score.
    candidate = from_tokenizers("exported", build_tokenizer(bilingual), "tokenizers.Tokenizer")
    (tally,) = judge_lines(bilingual, [candidate], [("jjjjj", "line[0]")])
    (tie,) = tally.ties
    assert tie.scores is not None
    assert tie.scores[0] == tie.scores[1]
    text = "\n".join(counterexamples(tally))
    assert text.splitlines() == [
        "exported: the shortest tie",
        "  line[0]: jjjjj",
        "    tie (first difference at token 0)",
        f"    tie: both segmentations score {tie.scores[0]:.2f}; sentencepiece picks "
        "jj | jj | j where exported picks j | jj | jj",
        "    sentencepiece: »jj« | jj | j  (ids 969 969 328)",
        "    exported:      »j« | jj | jj  (ids 328 969 969)",
    ]
    assert "'" not in text
    assert "[" not in text.replace("line[0]", "")
    # --json keeps the raw values.
    data = tie.to_dict()
    assert (data["reference_pieces"], data["text"], data["source"]) == (
        ["jj", "jj", "j"],
        "jjjjj",
        "line",
    )


def test_a_tie_closer_than_float32_names_both_scores() -> None:
    example = Counterexample(
        text="ゆうよ",
        origin="wagahaiwa_nekodearu.txt:3",
        kinds=["tie"],
        first_divergence=0,
        offset=0,
        reference_ids=[1, 2],
        candidate_ids=[3, 4],
        reference_pieces=["ゆ", "うよ"],
        candidate_pieces=["ゆう", "よ"],
        reference_decoded="ゆうよ",
        candidate_decoded="ゆうよ",
        scores=[-54647.1211, -54647.1234],
    )
    (said,) = [line for line in counterexample(example, "exported") if "tie:" in line]
    assert said == (
        "    tie: the segmentations score -54647.121 and -54647.123, closer than "
        "sentencepiece's float32 sum can tell apart there; sentencepiece picks ゆ | うよ "
        "where exported picks ゆう | よ"
    )


@pytest.fixture(scope="module")
def neox_default() -> tuple[SentencePieceModel, list[object]]:
    resolved = resolve(str(NEOX))
    model = SentencePieceModel.load(resolved.model_file)
    loaded, _ = load_candidates(resolved, model, ["default"])
    if not loaded:
        pytest.skip("transformers cannot load the fixture's default path here")
    return model, list(loaded)


def test_a_whitespace_difference_is_visible(
    neox_default: tuple[SentencePieceModel, list[object]],
) -> None:
    # The Hugging Face path collapses the double space and drops the leading one.
    model, loaded = neox_default
    line = " 名前は  まだ無い"
    (tally,) = judge_lines(model, loaded, [(line, "line[0]")])  # type: ignore[arg-type]
    if "whitespace_collapsed" not in tally.counts() or not tally.whitespace_collapsed:
        pytest.skip("the default path keeps this line's whitespace on this transformers release")
    (example,) = tally.counterexamples
    lines = counterexample(example, "default")
    assert lines[0] == "  line[0]: ␣名前は␣␣まだ無い"
    assert "    decoded by sentencepiece: ␣名前は␣␣まだ無い" in lines
    (theirs,) = [s for s in lines if s.startswith("    decoded by default:")]
    assert "␣␣" not in theirs
    (ours,) = [s for s in lines if s.startswith("    sentencepiece: ")]
    assert " | " in ours
    assert "»" in ours
    assert "'" not in ours
    assert example.to_dict()["text"] == line  # --json: the raw string


def test_long_wide_lines_fit_80_columns(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # the origin is short: wide.txt:1
    corpus = Path("wide.txt")
    long_line = "吾輩は猫である。  名前はまだ無い。\t" * 12
    corpus.write_text(f"{long_line}\n\u3000{long_line}\n", encoding="utf-8")
    monkeypatch.setenv("COLUMNS", "80")
    argv = ["compare", str(NEOX), "--corpus", str(corpus), "--examples", "20", "--jobs", "1"]
    code = main([*argv, "--candidate", "default"])
    out = capsys.readouterr().out
    assert code in (0, 1)
    widest = max(terminal.width(line) for line in out.splitlines())
    assert widest <= 80, [line for line in out.splitlines() if terminal.width(line) > 80]
    if code == 1:  # the line, too long for one row, on rows of its own below its origin
        assert f"  {corpus}:1:\n      吾輩は猫である。␣␣名前はまだ無い。⇥吾輩" in out
    # --json: the raw strings, as read.
    assert main([*argv, "--candidate", "default", "--json"]) == code
    data = json.loads(capsys.readouterr().out)
    texts = {e["text"] for e in data["candidates"][0]["counterexamples"]}
    assert code == 0 or long_line in texts
