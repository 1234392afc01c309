"""Chat prompts in the formats the rinna model cards prescribe, and the matching output cleanup.

Two formats, named as in :data:`tokcheck.model.profiles.PROMPT_FORMATS`:

- ``"nl-tag"`` (japanese-gpt-neox-3.6b family): the tokenizer has no newline piece, so every
  newline inside an utterance becomes the literal ``<NL>``, utterances are joined by ``<NL>``
  and the prompt ends with ``<NL>システム: ``.
- ``"newline"`` (bilingual-gpt-neox-4b family): utterances are joined by ``\\n`` and the prompt
  ends with ``\\nシステム: ``; newlines inside utterances are left as they are, as in the card.

Only strings are handled here: no tokenizer, no model. Tokenising the prompt is the caller's
job (:mod:`tokcheck.smoke.run` uses the sentencepiece reference).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tokcheck.errors import TokcheckError
from tokcheck.model.profiles import PROMPT_FORMATS

USER = "ユーザー"
SYSTEM = "システム"
NL_TAG = "<NL>"
# Generated text ends here: the eos piece, when a decoder spells it out rather than dropping it.
END_OF_TEXT = "</s>"

_SEPARATORS = {"nl-tag": NL_TAG, "newline": "\n"}


@dataclass(frozen=True)
class Utterance:
    """One turn of a conversation: who speaks (``ユーザー`` or ``システム``) and what they say."""

    speaker: str
    text: str


# The conversation used as the example in both families' model cards.
CARD_EXAMPLE: tuple[Utterance, ...] = (
    Utterance(USER, "日本のおすすめの観光地を教えてください。"),
    Utterance(SYSTEM, "どの地域の観光地が知りたいですか?"),
    Utterance(USER, "渋谷の観光地を教えてください。"),
)


def build_prompt(utterances: Sequence[Utterance | tuple[str, str]], fmt: str) -> str:
    """The prompt for ``utterances`` in format ``fmt``, ending where the system's reply starts."""
    separator = _separator(fmt)
    if not utterances:
        raise TokcheckError("a prompt needs at least one utterance")
    lines = []
    for item in utterances:
        speaker, text = (item.speaker, item.text) if isinstance(item, Utterance) else item
        if fmt == "nl-tag":
            text = text.replace("\n", NL_TAG)
        lines.append(f"{speaker}: {text}")
    return separator.join(lines) + f"{separator}{SYSTEM}: "


def postprocess(text: str, fmt: str) -> str:
    """Generated text as a reader should see it: cut at ``</s>``, ``<NL>`` back to newlines."""
    _separator(fmt)
    text = text.split(END_OF_TEXT, 1)[0]
    return text.replace(NL_TAG, "\n") if fmt == "nl-tag" else text


def _separator(fmt: str) -> str:
    try:
        return _SEPARATORS[fmt]
    except KeyError:
        raise TokcheckError(
            f"unknown prompt format {fmt!r}: use one of {', '.join(PROMPT_FORMATS)}"
        ) from None
