"""Generated conversations in the cards' prompt formats, and their post-processing."""

from __future__ import annotations

from tokcheck.inputs.conversations import conversations, prompt_formats, prompt_lines
from tokcheck.inputs.prompt import CARD_EXAMPLE, SYSTEM, USER, build_prompt, postprocess
from tokcheck.model.profiles import BUILTIN_PROFILES


def test_conversations_are_seeded_and_shaped_like_the_cards() -> None:
    first = list(conversations(40, seed=3))
    assert first == list(conversations(40, seed=3))
    assert first != list(conversations(40, seed=4))
    assert first[0] == CARD_EXAMPLE
    for conversation in first:
        assert len(conversation) % 2 == 1
        speakers = [u.speaker for u in conversation]
        assert speakers == [USER if k % 2 == 0 else SYSTEM for k in range(len(speakers))]
        assert all("<NL>" not in u.text and "</s>" not in u.text for u in conversation)
    texts = [u.text for c in first for u in c]
    # Internal newlines, Japanese and English all occur.
    assert any("\n" in t for t in texts)
    assert any("ユーザー" not in t and "。" in t for t in texts)
    assert any(t.isascii() for t in texts)


def test_prompt_lines_and_the_cleanup_give_the_conversation_back() -> None:
    lines = list(prompt_lines(["nl-tag", "newline"], 12, seed=1))
    assert [o for _, o in lines] == [
        f"prompt[{f}:{i}]" for f in ("nl-tag", "newline") for i in range(12)
    ]
    for (nl_tag, _), (newline, _), conversation in zip(
        lines[:12], lines[12:], conversations(12, seed=1), strict=True
    ):
        assert "\n" not in nl_tag
        assert nl_tag.endswith("<NL>システム: ")
        assert newline.endswith("\nシステム: ")
        assert newline == build_prompt(conversation, "newline")
        assert postprocess(nl_tag, "nl-tag") == newline
        assert postprocess(newline, "newline") == newline


def test_prompt_formats_follow_the_profile() -> None:
    neox = BUILTIN_PROFILES["rinna/japanese-gpt-neox-3.6b"]
    bilingual = BUILTIN_PROFILES["rinna/bilingual-gpt-neox-4b"]
    legacy = BUILTIN_PROFILES["rinna/japanese-gpt-1b"]
    assert prompt_formats(neox) == (["nl-tag"], f"profile {neox.name}")
    assert prompt_formats(bilingual) == (["newline"], f"profile {bilingual.name}")
    assert prompt_formats(legacy) == (
        ["nl-tag", "newline"],
        f"profile {legacy.name} names no prompt format: both formats",
    )
    assert prompt_formats(None) == (["nl-tag", "newline"], "no profile: both formats")
