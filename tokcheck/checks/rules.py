"""The validation gate: compare a model against a profile and against generic sanity rules.

Each check yields a :class:`CheckResult` with the expected and actual value, one line that
says what to do, and where the finding lives: the model file for the model's own checks; for a
Hugging Face file's, the file and the line of the key it is about (see
:mod:`tokcheck.model.locate`), so that annotations can point at it. A check that cannot apply
(no ``config.json``, no profile) is listed as skipped with the reason, never reported as passed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from tokcheck import verdict
from tokcheck.model.hftokens import HfTokens, SpecialToken, read_hf_tokens, tokenizer_special_id
from tokcheck.model.locate import Key, Locator
from tokcheck.model.profiles import Profile
from tokcheck.model.proto import ModelSummary, SentencePieceModel, proto_text
from tokcheck.model.resolve import ResolvedModel


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    expected: Any
    actual: Any
    message: str
    # Where the finding lives, when it is about a file: the file's path as reached from the
    # MODEL argument (the model file, a Hugging Face JSON file, a GGUF), and for a JSON file the
    # 1-based line of the key it is about (None where no one key is: the whole file).
    file: str | None = None
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


class Verdicts:
    """``passed`` and ``failed`` for any report that holds a ``checks`` list."""

    checks: list[CheckResult]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.passed]


@dataclass(frozen=True)
class CheckReport(Verdicts):
    source: str
    profile: str | None
    checks: list[CheckResult]
    skipped: list[Skipped] = field(default_factory=list)
    # How the profile was chosen (see tokcheck.model.profiles.select).
    profile_how: str | None = None
    strict: bool = False

    @property
    def caveats(self) -> list[str]:
        if self.profile is not None:
            return []
        return ["no profile applied: the family's vocabulary size and flags were not checked"]

    @property
    def verdict(self) -> str:
        return verdict.decide(bool(self.failed), self.caveats, self.strict)

    @property
    def passed(self) -> bool:
        return self.verdict != verdict.FAILED

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "verdict": self.verdict,
            "caveats": self.caveats,
            "source": self.source,
            "profile": self.profile,
            "profile_how": self.profile_how,
            "checks": [c.to_dict() for c in self.checks],
            "skipped": [asdict(s) for s in self.skipped],
        }


def run_checks(
    resolved: ResolvedModel,
    model: SentencePieceModel,
    profile: Profile | None,
    *,
    how: str | None = None,
    strict: bool = False,
) -> CheckReport:
    """Every check that applies to ``model`` (and ``profile``, when there is one: without one
    the pass carries a caveat); ``how`` says how the profile was chosen."""
    summary = model.summary()
    checks: list[CheckResult] = []
    skipped: list[Skipped] = []
    for produce in (_profile_checks, _generic_checks, _metadata_checks):
        for item in produce(model, summary, resolved, profile):
            if isinstance(item, CheckResult):
                if produce is not _metadata_checks:  # a finding on the model file itself
                    item = replace(item, file=str(resolved.model_file))
                checks.append(item)
            else:
                skipped.append(item)
    name = profile.name if profile else None
    return CheckReport(summary.source, name, checks, skipped, how, strict)


_Item = CheckResult | Skipped


def _equal(name: str, expected: Any, actual: Any, fix: str) -> CheckResult:
    passed = expected == actual
    message = (
        f"{name} is {actual!r} as expected"
        if passed
        else f"{name} is {actual!r}, expected {expected!r}: {fix}"
    )
    return CheckResult(name, passed, expected, actual, message)


def _flag_fix(profile: Profile, flag: str) -> str:
    return f"this model file does not have the {flag} setting of {profile.name}; wrong model file, or it was retrained or edited"


def _profile_checks(
    model: SentencePieceModel, s: ModelSummary, r: ResolvedModel, profile: Profile | None
) -> Iterator[_Item]:
    if profile is None:
        yield Skipped("profile", "no profile given or selected; generic checks only")
        return
    if profile.vocab_size is not None:
        yield _equal(
            "vocab_size",
            profile.vocab_size,
            s.vocab_size,
            f"{profile.name} has {profile.vocab_size} pieces; ids would not match the model's embedding",
        )
    if profile.model_type is not None:
        yield _equal(
            "model_type", profile.model_type, s.model_type, _flag_fix(profile, "model_type")
        )
    for flag in ("byte_fallback", "add_dummy_prefix", "remove_extra_whitespaces"):
        expected = getattr(profile, flag)
        if expected is not None:
            yield _equal(flag, expected, getattr(s, flag), _flag_fix(profile, flag))
    if profile.byte_fallback and not s.byte_fallback:
        # Judged by the profile even when the model itself does not ask for byte fallback.
        yield _byte_pieces(s)
    for text in profile.representable:
        yield _representable(model, s, text)


def _byte_pieces(s: ModelSummary) -> CheckResult:
    passed = s.byte_pieces_exact
    return CheckResult(
        "byte_pieces",
        passed,
        "256 BYTE pieces <0x00>..<0xFF> in order",
        f"{s.byte_pieces} BYTE pieces"
        + ("" if passed or not s.byte_pieces else ", not exactly <0x00>..<0xFF>"),
        "byte fallback has all 256 byte pieces"
        if passed
        else "byte fallback needs all 256 pieces <0x00>..<0xFF>: characters outside the vocab "
        "cannot be encoded; retrain with --byte_fallback",
    )


def _representable(model: SentencePieceModel, s: ModelSummary, text: str) -> CheckResult:
    name = f"representable[{text!r}]"
    if s.processor_error:
        return CheckResult(name, False, f"{text!r} encodes", None, s.processor_error)
    sp = model.processor
    ids = sp.encode(text)
    # As bytes and ids: asked for text, sentencepiece raises on pieces that are not UTF-8.
    back = proto_text(sp.decode(ids, out_type=bytes))
    passed = s.unk_id not in ids and back == text
    return CheckResult(
        name,
        passed,
        f"{text!r} encodes without unk and decodes back",
        {"pieces": [model.pieces[i] for i in ids], "decoded": back},
        f"{text!r} survives encode and decode"
        if passed
        else f"{text!r} is lost by this tokenizer; the family's models were trained with it representable",
    )


def _generic_checks(
    model: SentencePieceModel, s: ModelSummary, r: ResolvedModel, profile: Profile | None
) -> Iterator[_Item]:
    yield CheckResult(
        "sentencepiece_loads",
        s.processor_error is None,
        "the sentencepiece library loads the model",
        "loads" if s.processor_error is None else "refused",
        "sentencepiece loads the model"
        if s.processor_error is None
        else f"{s.processor_error}; every consumer of this file will fail the same way",
    )
    if s.byte_fallback:
        yield _byte_pieces(s)
    unk_ok = s.unknown_pieces == 1 and s.unk_piece is not None
    yield CheckResult(
        "unk_piece",
        unk_ok,
        "exactly one UNKNOWN piece, at unk_id",
        f"{s.unknown_pieces} UNKNOWN piece(s), unk_id {s.unk_id}",
        "one unk piece"
        if unk_ok
        else "a sentencepiece model needs exactly one unk piece; the file is damaged",
    )
    yield CheckResult(
        "duplicate_pieces",
        not s.duplicate_pieces,
        [],
        list(s.duplicate_pieces[:10]),
        "no piece appears twice"
        if not s.duplicate_pieces
        else f"{len(s.duplicate_pieces)} piece(s) appear twice, so piece->id is ambiguous; rebuild the vocab",
    )
    invalid = s.invalid_utf8_pieces
    utf8_ok = not invalid and not s.unk_surface_invalid_utf8
    culprits = [f"{len(invalid)} piece(s) (ids {list(invalid[:5])})"] if invalid else []
    if s.unk_surface_invalid_utf8:
        culprits.append("trainer_spec.unk_surface")
    yield CheckResult(
        "pieces_utf8",
        utf8_ok,
        "every piece name and unk_surface is valid UTF-8",
        {
            "invalid_utf8_pieces": list(invalid[:10]),
            "unk_surface_invalid_utf8": s.unk_surface_invalid_utf8,
        },
        "every piece is valid UTF-8"
        if utf8_ok
        else f"{' and '.join(culprits)} not valid UTF-8: Hugging Face converters and "
        "sentencepiece's Python API cannot return such a piece as text; rebuild the vocab",
    )
    yield CheckResult(
        "finite_scores",
        not s.nonfinite_scores,
        "all scores finite",
        f"{len(s.nonfinite_scores)} non-finite"
        + (f" (ids {list(s.nonfinite_scores[:5])})" if s.nonfinite_scores else ""),
        "all scores finite"
        if not s.nonfinite_scores
        else "NaN or infinite scores make segmentation undefined; rebuild the model",
    )
    out_of_range = {
        name: i
        for name, i in (
            ("unk_id", s.unk_id),
            ("bos_id", s.bos_id),
            ("eos_id", s.eos_id),
            ("pad_id", s.pad_id),
        )
        if not -1 <= i < s.vocab_size or (name == "unk_id" and i < 0)
    }
    yield CheckResult(
        "special_ids",
        not out_of_range,
        f"unk_id in [0, {s.vocab_size}); bos/eos/pad in [0, {s.vocab_size}) or -1 (disabled)",
        {"unk_id": s.unk_id, "bos_id": s.bos_id, "eos_id": s.eos_id, "pad_id": s.pad_id},
        "special ids in range"
        if not out_of_range
        else f"special id(s) {', '.join(out_of_range)} out of range; the trainer_spec is inconsistent with the vocab",
    )


def _metadata_checks(
    model: SentencePieceModel, s: ModelSummary, r: ResolvedModel, profile: Profile | None
) -> Iterator[_Item]:
    hf = read_hf_tokens(r, model)
    at = _Places(r, Locator())
    yield from _token_checks(r, hf, at)
    config = r.config
    if config is None:
        for name in ("embedding_rows", "config_bos_id", "config_eos_id", "config_pad_id"):
            yield Skipped(name, "no config.json")
        return
    rows = _embedding_rows(config, s, hf)
    yield at(rows, "config.json", "vocab_size") if isinstance(rows, CheckResult) else rows
    effects = {
        "bos": "generation would start on the wrong token",
        "eos": "generation would stop on the wrong token",
        "pad": "batches would be padded with another token than the tokenizer pads with",
    }
    for which, effect in effects.items():
        name = f"config_{which}_id"
        configured = config.get(f"{which}_token_id")
        if not isinstance(configured, int):
            yield Skipped(name, f"config.json has no integer {which}_token_id")
            continue
        tokenizer_id = tokenizer_special_id(r, model, which)
        result = _equal(
            name,
            tokenizer_id,
            configured,
            f"config.json says {which}_token_id {configured} but the tokenizer's {which} id is "
            f"{tokenizer_id}; {effect}: fix config.json (and generation_config.json)",
        )
        yield at(result, "config.json", f"{which}_token_id")


def _token_checks(r: ResolvedModel, hf: HfTokens, at: _Places) -> Iterator[_Item]:
    if r.tokenizer_config is None and r.special_tokens_map is None:
        yield Skipped(
            "special_tokens_in_vocab", "no tokenizer_config.json or special_tokens_map.json"
        )
    else:
        missing = {t.name: t.content for t in hf.unresolved}
        result = CheckResult(
            "special_tokens_in_vocab",
            not missing,
            "every special token named in tokenizer_config.json / special_tokens_map.json is "
            "a piece or in added_tokens.json",
            {"named": hf.named(), "missing": missing},
            "all named special tokens are pieces or added tokens"
            if not missing
            else f"{', '.join(f'{k}={v!r}' for k, v in missing.items())} not in the vocab: "
            "Hugging Face would add new ids the model has no embedding for; fix "
            "tokenizer_config.json (or list the token in added_tokens.json)",
        )
        if hf.unresolved:  # the first token missing, in the first file that names it so
            first = hf.unresolved[0]
            yield at(result, first.files[0], *_token_keys(first))
        else:
            named = (
                "tokenizer_config.json"
                if r.tokenizer_config is not None
                else "special_tokens_map.json"
            )
            yield at(result, named)
    if hf.added_tokens is None:
        yield Skipped("added_tokens", "no added_tokens.json")
        return
    problems = hf.added_token_problems
    result = CheckResult(
        "added_tokens",
        not problems,
        "added_tokens.json: each id is its own piece's or runs on past the vocabulary",
        {"added_tokens": {t.content: t.id for t in hf.added_tokens}, "problems": problems},
        f"{len(hf.added_tokens)} added token(s) consistent with the model"
        if not problems
        else f"{'; '.join(problems)}: a token's id would depend on the class that loads the "
        "directory; fix added_tokens.json",
    )
    wrong = [t.content for t in hf.added_tokens if t.problem]
    yield at(result, "added_tokens.json", *wrong[:1])  # the first wrong entry's line


class _Places:
    """Places a check result in a Hugging Face file of the model's directory: the file where
    it exists (else the result stays unplaced), and the line of ``keys`` in it where given."""

    def __init__(self, resolved: ResolvedModel, locator: Locator) -> None:
        self.directory = resolved.directory
        self.locator = locator

    def __call__(self, result: CheckResult, name: str, *keys: Key) -> CheckResult:
        path = self.directory / name if self.directory is not None else None
        try:
            if path is None or not path.is_file():
                return result
        except OSError:  # a file that cannot even be looked at: placed nowhere
            return result
        line = self.locator.line(path, *keys) if keys else None
        return replace(result, file=str(path), line=line)


def _token_keys(token: SpecialToken) -> tuple[Key, ...]:
    """Where a special token is written: its key, or ``additional_special_tokens`` and the
    token's index in that list."""
    listed, _, index = token.name.partition("[")
    return (listed, int(index.rstrip("]"))) if index else (token.name,)


def _embedding_rows(config: dict[str, Any], s: ModelSummary, hf: HfTokens) -> _Item:
    rows = config.get("vocab_size")
    if not isinstance(rows, int):
        return Skipped("embedding_rows", "config.json has no integer vocab_size")
    ids = max([s.vocab_size - 1, *(t.id for t in hf.added_tokens or ())])
    ok = rows > ids
    added = " and added tokens" if ids >= s.vocab_size else ""
    return CheckResult(
        "embedding_rows",
        ok,
        f">= {ids + 1} (tokenizer vocab size{added})",
        rows,
        f"config.json vocab_size {rows} covers every token id"
        if ok
        else f"config.json vocab_size {rows} <= id {ids} of the tokenizer{added}: ids >= {rows} "
        "have no embedding row; this tokenizer does not belong to this model",
    )
