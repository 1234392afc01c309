"""Prompt formats against the rinna model cards' own example, plus round-trip properties."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokcheck.errors import TokcheckError
from tokcheck.inputs.prompt import CARD_EXAMPLE, Utterance, build_prompt, postprocess
from tokcheck.model.proto import SentencePieceModel

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
EXAMPLES = int(os.environ.get("TOKCHECK_HYPOTHESIS_EXAMPLES", "200"))

CARD_TUPLES = [
    ("ユーザー", "日本のおすすめの観光地を教えてください。"),
    ("システム", "どの地域の観光地が知りたいですか?"),
    ("ユーザー", "渋谷の観光地を教えてください。"),
]
# japanese-gpt-neox-3.6b-instruction-* model card, "I/O Format".
CARD_NL_TAG = (
    "ユーザー: 日本のおすすめの観光地を教えてください。<NL>"
    "システム: どの地域の観光地が知りたいですか?<NL>"
    "ユーザー: 渋谷の観光地を教えてください。<NL>"
    "システム: "
)
# bilingual-gpt-neox-4b-instruction-* model card: the same conversation joined by newlines.
CARD_NEWLINE = (
    "ユーザー: 日本のおすすめの観光地を教えてください。\n"
    "システム: どの地域の観光地が知りたいですか?\n"
    "ユーザー: 渋谷の観光地を教えてください。\n"
    "システム: "
)


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [("nl-tag", CARD_NL_TAG), ("newline", CARD_NEWLINE)],
    ids=["nl-tag", "newline"],
)
def test_card_example_known_answer(fmt: str, expected: str) -> None:
    assert build_prompt(CARD_TUPLES, fmt) == expected
    assert build_prompt(CARD_EXAMPLE, fmt) == expected


def test_newlines_inside_an_utterance() -> None:
    turns = [Utterance("ユーザー", "一行目\n二行目")]
    assert build_prompt(turns, "nl-tag") == "ユーザー: 一行目<NL>二行目<NL>システム: "
    assert build_prompt(turns, "newline") == "ユーザー: 一行目\n二行目\nシステム: "


@pytest.mark.parametrize(
    ("fmt", "generated", "expected"),
    [
        ("nl-tag", "はい。<NL>渋谷には</s>ユーザー: ", "はい。\n渋谷には"),
        ("nl-tag", "終わりのない返事", "終わりのない返事"),
        ("newline", "はい。\n渋谷には</s>余り", "はい。\n渋谷には"),
        # "<NL>" is plain text to the bilingual family: left alone.
        ("newline", "a<NL>b", "a<NL>b"),
    ],
    ids=["nl-tag-cut", "nl-tag-no-eos", "newline-cut", "newline-keeps-tag"],
)
def test_postprocess(fmt: str, generated: str, expected: str) -> None:
    assert postprocess(generated, fmt) == expected


def test_unknown_format_is_refused() -> None:
    with pytest.raises(TokcheckError, match=r"unknown prompt format 'chatml'.*nl-tag, newline"):
        build_prompt(CARD_TUPLES, "chatml")
    with pytest.raises(TokcheckError, match="unknown prompt format"):
        postprocess("x", "chatml")


def test_empty_conversation_is_refused() -> None:
    with pytest.raises(TokcheckError, match="at least one utterance"):
        build_prompt([], "nl-tag")


_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40).filter(
    lambda t: "<NL>" not in t and "</s>" not in t
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(_TEXT)
def test_nl_tag_round_trip(text: str) -> None:
    """A reply written the nl-tag way comes back with its newlines; no raw newline goes in."""
    prompt = build_prompt([("ユーザー", text)], "nl-tag")
    assert "\n" not in prompt
    assert postprocess(prompt, "nl-tag") == f"ユーザー: {text}\nシステム: "


@pytest.mark.parametrize(
    ("fixture", "fmt"),
    [("neox-3.6b", "nl-tag"), ("bilingual-4b", "newline")],
    ids=["neox-3.6b", "bilingual-4b"],
)
def test_card_prompt_survives_the_reference_tokenizer(fixture: str, fmt: str) -> None:
    sp = SentencePieceModel.load(FIXTURES / fixture / "spiece.model").processor
    prompt = build_prompt(CARD_EXAMPLE, fmt)
    ids = sp.encode(prompt)
    assert sp.unk_id() not in ids
    assert sp.decode(ids) == prompt
