"""Round-trip properties of the reference tokenizer, run with Hypothesis outside pytest.

Properties: ``decode_encode`` (decode(encode(s)) equals s after the model's own normalisation,
which is the identity for rinna's flags), ``no_unk`` and ``lossless`` (byte fallback on: the unk
id never appears and every character survives), and ``id_piece_bijection`` (checked over the
whole vocab, not sampled). A failure carries Hypothesis's shrunk minimal counterexample and the
command that replays it. ``lossless`` leaves out U+2581 "▁", which sentencepiece uses as its
escaped space and decodes to " " by design.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from tokcheck.inputs.probes import generation_alphabet, without_local_constants
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.spm import SPACE_SYMBOL


@dataclass(frozen=True)
class PropertyResult:
    name: str
    passed: bool
    examples: int
    counterexample: str | None = None
    detail: str | None = None
    replay: str | None = None


@dataclass(frozen=True)
class RoundtripReport:
    source: str
    seed: int
    properties: list[PropertyResult]
    elapsed_s: float

    @property
    def passed(self) -> bool:
        return all(p.passed for p in self.properties)

    def to_dict(self) -> dict[str, Any]:
        examples = sum(p.examples for p in self.properties if p.name != "id_piece_bijection")
        return {
            "passed": self.passed,
            "source": self.source,
            "seed": self.seed,
            "properties": [asdict(p) for p in self.properties],
            "elapsed_s": round(self.elapsed_s, 3),
            "examples_per_s": round(examples / self.elapsed_s, 1) if self.elapsed_s else None,
        }


def expected_roundtrip(model: SentencePieceModel, text: str) -> str:
    """What decode(encode(text)) must give: the model's normalisation of ``text``, unescaped."""
    spec = model.proto.normalizer_spec
    normalized: str = model.processor.normalize(text)
    if spec.add_dummy_prefix and normalized.startswith(SPACE_SYMBOL):
        normalized = normalized[1:]
    return normalized.replace(SPACE_SYMBOL, " ") if spec.escape_whitespaces else normalized


def property_names(model: SentencePieceModel) -> list[str]:
    """The properties that apply to ``model``, read from its flags without running any."""
    names = ["decode_encode"]
    if model.proto.trainer_spec.byte_fallback:
        names.append("no_unk")
        spec = model.proto.normalizer_spec
        identity = (
            not spec.precompiled_charsmap
            and not spec.remove_extra_whitespaces
            and not spec.add_dummy_prefix
        )
        if identity:
            names.append("lossless")
    return [*names, "id_piece_bijection"]


def roundtrip(
    model: SentencePieceModel, *, examples: int = 1000, seed: int = 0, replay_hint: str = ""
) -> RoundtripReport:
    """Run every property that applies to the model; ``replay_hint`` is the command to rerun."""
    model.require_text("run round-trip properties on it")
    start = time.perf_counter()
    sp = model.processor
    unk = sp.unk_id()
    applies = property_names(model)
    alphabet = generation_alphabet(model)

    def decode_encode(text: str) -> str | None:
        got = sp.decode(sp.encode(text))
        want = expected_roundtrip(model, text)
        return None if got == want else f"decode(encode(s)) = {got!r}, expected {want!r}"

    def no_unk(text: str) -> str | None:
        pieces = sp.encode(text, out_type=str)
        ids = sp.encode(text)
        return None if unk not in ids else f"unk id {unk} in encode(s): {pieces}"

    def lossless(text: str) -> str | None:
        got = sp.decode(sp.encode(text))
        return None if got == text else f"decode(encode(s)) = {got!r} lost characters of s"

    properties = [_run("decode_encode", decode_encode, examples, seed, alphabet, replay_hint)]
    if "no_unk" in applies:
        properties.append(_run("no_unk", no_unk, examples, seed, None, replay_hint))
    if "lossless" in applies:
        properties.append(
            _run("lossless", lossless, examples, seed, None, replay_hint, exclude=SPACE_SYMBOL)
        )
    properties.append(_bijection(model))
    return RoundtripReport(str(model.path), seed, properties, time.perf_counter() - start)


def _run(
    name: str,
    check: Callable[[str], str | None],
    examples: int,
    seed: int,
    alphabet: str | None,
    replay_hint: str,
    exclude: str = "",
) -> PropertyResult:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st
    from hypothesis.reporting import with_reporter

    if alphabet is not None:
        chars = st.sampled_from(alphabet)
    else:
        chars = st.characters(exclude_categories=["Cs"], exclude_characters=exclude)
    calls = 0
    last_failure: list[tuple[str, str]] = []

    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.text(chars, max_size=64))
    def prop(text: str) -> None:
        nonlocal calls
        calls += 1
        detail = check(text)
        if detail is not None:
            last_failure.append((text, detail))
            raise AssertionError(detail)

    # The strings a seed draws must not depend on which modules are imported: the replay
    # command runs in another program (see tokcheck.inputs.probes.without_local_constants).
    with with_reporter(lambda _message: None), without_local_constants():
        try:
            prop()
        except Exception:
            if not last_failure:
                raise
            # Hypothesis replays the shrunk minimal example last.
            text, detail = last_failure[-1]
            return PropertyResult(
                name,
                False,
                calls,
                counterexample=text,
                detail=detail,
                replay=f"{replay_hint} --seed {seed} --examples {examples}".strip()
                + f"  # minimal s = {text!r} (code points {' '.join(f'U+{ord(c):04X}' for c in text)})",
            )
    return PropertyResult(name, True, calls)


def _bijection(model: SentencePieceModel) -> PropertyResult:
    sp = model.processor
    size = sp.get_piece_size()
    for i in range(size):
        piece = sp.id_to_piece(i)
        if sp.piece_to_id(piece) != i:
            return PropertyResult(
                "id_piece_bijection",
                False,
                size,
                counterexample=piece,
                detail=f"id {i} -> piece {piece!r} -> id {sp.piece_to_id(piece)}",
                replay=f"python -c \"import sentencepiece as s; p=s.SentencePieceProcessor(model_file='{model.path}'); print(p.piece_to_id(p.id_to_piece({i})))\"",
            )
    return PropertyResult("id_piece_bijection", True, size)
