"""The cards' prompts as compare's lines: generated conversations in the rinna prompt formats.

A seeded generator writes conversations of a few turns (ユーザー and システム alternating, the
user last, Japanese and English text, newlines inside utterances); :mod:`tokcheck.inputs.prompt`
formats each as the model card prescribes, ending in ``システム: ``. :mod:`tokcheck.compare.run`
judges those prompts like any other line, labelled ``prompt[FORMAT:i]``.

The card's decode post-processing is checked here, separately from the judge: decoding a
prompt's ids and applying the card's cleanup (``<NL>`` back to newlines) must give back the
conversation as text, for sentencepiece and for every candidate. A candidate whose raw decode
equals sentencepiece's also passes this check, so it adds no failure to compare's verdict; it
says how many prompts a user of each path would read back wrong after the cleanup.

The format is the profile's when one is known; otherwise both formats are used, and the report
says so. This module builds no prompt format of its own and loads no tokenizer.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from tokcheck.inputs.prompt import CARD_EXAMPLE, SYSTEM, USER, Utterance, build_prompt
from tokcheck.model.profiles import PROMPT_FORMATS

if TYPE_CHECKING:
    from tokcheck.model.profiles import Profile

# Conversations judged by default: few, and cheap beside the generated strings.
DEFAULT_CONVERSATIONS = 16

_JAPANESE = (
    "日本のおすすめの観光地を教えてください。",
    "渋谷の観光地を教えてください。",
    "どの地域の観光地が知りたいですか?",
    "吾輩は猫である。名前はまだ無い。",
    "今日は天気がいいですね。",
    "東京から京都までは新幹線で約2時間15分です。",
    "ｶﾀｶﾅと全角のＡＢＣ１２３、それに「かぎ括弧」も使います。",
    "おすすめは、浅草寺、明治神宮、東京スカイツリーです。",
    "箇条書きで答えます:\n・一つ目\n・二つ目",
    "𠮷野家で牛丼を食べました🍚",
    "はい、　全角スペースの後も続きます。",
)
_ENGLISH = (
    "What is the capital of Japan?",
    "Tokyo is the capital of Japan.",
    "Please answer in English.",
    "Here is some code:\ndef f(x):\n    return x * 2",
    "Sure!  Two spaces, then a tab\tand more.",
    "Visit https://example.com/path?q=検索 for details.",
    "1. First\n2. Second\n3. Third",
    "I'd like 3 tips, please.",
)
# What joins the fragments of one utterance: newlines inside an utterance are what the nl-tag
# format rewrites to <NL> and the cleanup must restore.
_JOINS = ("", " ", "\n", "\n\n", "  ")


def conversations(count: int, seed: int = 0) -> Iterator[tuple[Utterance, ...]]:
    """``count`` reproducible conversations: the cards' own example first, then generated ones
    of 1, 3, 5 or 7 turns, ユーザー and システム alternating and the user speaking last."""
    rng = random.Random(seed)
    for i in range(count):
        if i == 0:
            yield CARD_EXAMPLE
            continue
        turns = rng.choice((1, 3, 5, 7))
        yield tuple(
            Utterance(USER if k % 2 == 0 else SYSTEM, _utterance(rng)) for k in range(turns)
        )


def _utterance(rng: random.Random) -> str:
    parts = [rng.choice(rng.choice((_JAPANESE, _ENGLISH))) for _ in range(rng.randint(1, 3))]
    text = parts[0]
    for part in parts[1:]:
        text += rng.choice(_JOINS) + part
    return text


def prompt_formats(profile: Profile | None) -> tuple[list[str], str]:
    """The formats to build prompts in, and why: the profile's, else both."""
    if profile is not None and profile.prompt_format:
        return [profile.prompt_format], f"profile {profile.name}"
    why = f"profile {profile.name} names no prompt format" if profile else "no profile"
    return list(PROMPT_FORMATS), f"{why}: both formats"


def prompt_lines(formats: Sequence[str], count: int, seed: int = 0) -> Iterator[tuple[str, str]]:
    """Each conversation's prompt in each format, as judged lines ``(prompt, origin)``."""
    for fmt in formats:
        for i, conversation in enumerate(conversations(count, seed)):
            yield build_prompt(conversation, fmt), f"prompt[{fmt}:{i}]"
