"""tokcheck.export: the exported tokenizer is token-for-token sentencepiece.

Every check compares against sentencepiece itself on the raw model: the built
``tokenizers.Tokenizer`` on the fixtures, ../shared's models and corpora, a BPE model trained
here, and Hypothesis strings (example count from TOKCHECK_HYPOTHESIS_EXAMPLES); the written
directory through ``transformers.AutoTokenizer``; and the directory handling (refusal, force,
no half-written output). Exports go to ``tmp_path`` only.
"""

from __future__ import annotations

import io
import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sentencepiece as spm
from hypothesis import given, settings
from hypothesis import strategies as st

from tokcheck.candidates.hf import from_tokenizers
from tokcheck.convert import target
from tokcheck.convert.converter import build_tokenizer
from tokcheck.errors import ExportRefusedError, OutputError, TokcheckError
from tokcheck.export import run as export_module
from tokcheck.export.run import export
from tokcheck.inputs.derived import model_texts
from tokcheck.inputs.probes import sample_texts, structured_texts, unknown_texts
from tokcheck.judge.tally import Tally
from tokcheck.model.proto import SentencePieceModel, parse_model_proto
from tokcheck.model.resolve import ResolvedModel, resolve
from tokcheck.parallel.runner import judge_lines

if TYPE_CHECKING:
    from tokenizers import Tokenizer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHARED = Path(__file__).resolve().parents[2] / "shared"
EXAMPLES = int(os.environ.get("TOKCHECK_HYPOTHESIS_EXAMPLES", "200"))
CARD_TEXT = "  吾輩は  猫である   "
GEORGIAN = "გამარჯობა"
# A private probe list: whitespace, scripts outside the vocabularies, normaliser traps and
# strings that spell the names of pieces sentencepiece never matches in text.
PROBES = (
    CARD_TEXT,
    GEORGIAN,
    "吾輩は猫である。名前はまだ無い。",
    "",
    " ",
    "   ",
    " leading",
    "trailing ",
    "a  b   c",
    "tab\there\nnewline\r\n",
    " \n ",
    "a \n b",
    "\t\n \t",
    "<s> </s> <unk> [UNK] [PAD] <pad> <0x41> <0xE3>",
    "x</s>y<s>",
    "\u2581 literal lower one eighth block",
    "x\u2581",
    "ｶﾞｷﾞｸﾞ ﾊﾟﾋﾟ ﾃﾞｰﾀ",
    "ＡＢＣ１２３！？（全角）\u3000全角スペース",
    "e\u0301 vs \u00e9",
    "zero\u200bwidth\ufeffbom\u00adsoft",
    "nul\x00bell\x07esc\x1b",
    "猫😺と犬🐶 👩\u200d👩\u200d👧 👍🏽",
    "𠮷野家の𩸽",
    "Привет مرحبا नमस्ते สวัสดี 안녕하세요",
    "def f(x):\n    return x ** 2  # ～",
    "吾輩は猫である。" * 50,
)
# Directories in Hugging Face layout; each is exact on every probe, sample and corpus line.
EXACT_DIRS = (
    "tiny-neox",
    "tiny-bilingual",
    "tiny-legacy",
    "neox-3.6b",
    "broken/dummy-prefix-on",
    "broken/whitespace-removal-on",
)


def _load(path: Path) -> SentencePieceModel:
    return SentencePieceModel.load(path)


def _judge(model: SentencePieceModel, tokenizer: object, texts: list[str]) -> Tally:
    """The one judge's verdict on ``tokenizer`` (a tokenizers.Tokenizer) over ``texts``."""
    candidate = from_tokenizers("exported", tokenizer, "tokenizers.Tokenizer")
    lines = [(text, f"line[{i}]") for i, text in enumerate(texts)]
    (tally,) = judge_lines(model, [candidate], lines)
    return tally


def _shared_models() -> list[Path]:
    return sorted((SHARED / "models").glob("*.model")) if SHARED.is_dir() else []


def _corpus_lines() -> list[str]:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (the corpora live there)")
    lines: list[str] = []
    for name in ("botchan.txt", "wagahaiwa_nekodearu.txt"):
        lines += (SHARED / "corpora" / name).read_text(encoding="utf-8").splitlines()
    return lines


def _train_bpe(out: Path) -> Path:
    """A small seeded BPE model with byte fallback, from generated English/Japanese text."""
    rng = random.Random(20261122)
    words = ["".join(rng.choices("abcdefghijklmnop", k=rng.randint(1, 7))) for _ in range(300)]
    kana = [chr(c) for c in range(0x3041, 0x3097)]
    lines = [
        " ".join(rng.choices(words, k=rng.randint(3, 12)))
        + " "
        + "".join(rng.choices(kana, k=rng.randint(2, 20)))
        for _ in range(3000)
    ]
    spm.set_random_generator_seed(20261122)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        model_type="bpe",
        vocab_size=700,
        byte_fallback=True,
        user_defined_symbols=["\n"],
        num_threads=1,
        minloglevel=2,
    )
    out.write_bytes(model.getvalue())
    return out


@pytest.fixture(scope="module")
def bpe_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train_bpe(tmp_path_factory.mktemp("bpe") / "bpe.model")


def _all_models(bpe: Path) -> list[tuple[str, Path]]:
    models = [(name, FIXTURES / name / "spiece.model") for name in EXACT_DIRS]
    models += [(f"shared/{p.name}", p) for p in _shared_models()]
    return [*models, ("trained-bpe", bpe)]


@pytest.mark.parametrize("name", [*EXACT_DIRS, "shared", "trained-bpe"])
def test_built_tokenizer_is_exact_on_probes_and_samples(name: str, bpe_model: Path) -> None:
    chosen = [(n, p) for n, p in _all_models(bpe_model) if n == name or n.startswith(f"{name}/")]
    if not chosen:
        pytest.skip(f"{SHARED} is absent")
    for _, path in chosen:
        model = _load(path)
        texts = [*PROBES, *sample_texts(model, 500, seed=1)]
        tally = _judge(model, build_tokenizer(model), texts)
        assert tally.status == "exact", tally.summary()


@pytest.mark.parametrize("name", [*EXACT_DIRS, "shared", "trained-bpe"])
def test_built_tokenizer_is_exact_on_every_corpus_line(name: str, bpe_model: Path) -> None:
    lines = _corpus_lines()
    chosen = [(n, p) for n, p in _all_models(bpe_model) if n == name or n.startswith(f"{name}/")]
    for _, path in chosen:
        model = _load(path)
        tally = _judge(model, build_tokenizer(model), lines)
        assert tally.status == "exact", tally.summary()


def test_trained_bpe_really_is_bpe_with_byte_fallback(bpe_model: Path) -> None:
    proto = _load(bpe_model).proto
    assert proto.trainer_spec.model_type == 2
    assert proto.trainer_spec.byte_fallback
    assert proto.normalizer_spec.add_dummy_prefix


NEOX = _load(FIXTURES / "tiny-neox" / "spiece.model")
BILINGUAL = _load(FIXTURES / "tiny-bilingual" / "spiece.model")
LEGACY = _load(FIXTURES / "tiny-legacy" / "spiece.model")
TOKENIZERS = {id(m): build_tokenizer(m) for m in (NEOX, BILINGUAL, LEGACY)}


def _joined(units: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(units, max_size=30).map("".join)


def _assert_exact(model: SentencePieceModel, text: str) -> None:
    tally = _judge(model, TOKENIZERS[id(model)], [text])
    assert tally.passed(), tally.summary()


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(st.characters(exclude_categories=["Cs"])))
def test_any_text_is_exact_with_rinna_flags(text: str) -> None:
    _assert_exact(NEOX, text)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    _joined(st.sampled_from("ab 吾輩猫\t\n\r\u3000<>/s[]0x41") | st.sampled_from(BILINGUAL.pieces))
)
def test_user_defined_newline_and_tab_are_exact(text: str) -> None:
    _assert_exact(BILINGUAL, text)


# nmt_nfkc: tokenizers looks multi-character charsmap keys up per grapheme cluster, so a
# combining mark after an arbitrary character is out of scope (see tokcheck.convert.normalizer._charsmap).
_PRECOMPOSED = st.characters(
    exclude_categories=["Cs", "Mn", "Mc", "Me"],
    exclude_characters="\uff9e\uff9f",
    max_codepoint=0xFFFF,
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(_joined(_PRECOMPOSED | st.sampled_from(["  ", "\u2581", "ｶﾞ", "ﾊﾟ", "e\u0301", "<s>"])))
def test_precomposed_text_is_exact_with_legacy_flags(text: str) -> None:
    _assert_exact(LEGACY, text)


def test_float32_ties_are_reported_as_ties() -> None:
    # sentencepiece keeps Viterbi path scores in float32, so an exact tie (d+dd against dd+d)
    # is decided by rounding, which tokenizers' float64 Viterbi cannot reproduce.
    model = _load(FIXTURES / "broken" / "whitespace-removal-on" / "spiece.model")
    tally = _judge(model, build_tokenizer(model), [" heddd eq"])
    assert (tally.tie, tally.mismatched, tally.decode_mismatched) == (1, 0, 0)
    assert tally.status == "ties"
    assert tally.passed()
    assert not tally.passed(strict=True)
    (tie,) = tally.ties
    assert tie.kinds == ["tie"]
    assert tie.reference_ids != tie.candidate_ids
    assert "".join(tie.reference_pieces) == "".join(tie.candidate_pieces)


def test_normalisation_differences_are_not_ties() -> None:
    # A stray combining mark after a full-width letter: tokenizers' own Precompiled normaliser
    # (what its converters write) drops the mark, sentencepiece keeps it.
    from tokenizers import normalizers

    tokenizer = build_tokenizer(LEGACY)
    precompiled = normalizers.Precompiled(LEGACY.proto.normalizer_spec.precompiled_charsmap)
    tokenizer.normalizer = normalizers.Sequence([precompiled, tokenizer.normalizer])
    tally = _judge(LEGACY, tokenizer, ["\uff21\u0301"])
    assert (tally.tie, tally.mismatched) == (0, 1)
    assert tally.status == "diverged"


def test_control_and_byte_names_in_text_are_characters_not_ids() -> None:
    sp, tok = NEOX.processor, TOKENIZERS[id(NEOX)]
    for text in ("<s>", "</s>", "[UNK]", "[PAD]", "<0x41>"):
        ids = tok.encode(text, add_special_tokens=False).ids
        assert ids == sp.encode(text)
        assert not {sp.bos_id(), sp.eos_id(), sp.unk_id(), sp.pad_id()} & set(ids)
    assert tok.encode("<0x41>", add_special_tokens=False).ids != [sp.piece_to_id("<0x41>")]


def test_control_ids_decode_to_nothing_like_sentencepiece() -> None:
    sp, tok = NEOX.processor, TOKENIZERS[id(NEOX)]
    ids = [sp.bos_id(), *sp.encode(CARD_TEXT), sp.eos_id()]
    assert tok.decode(ids, skip_special_tokens=False) == sp.decode(ids) == CARD_TEXT


def test_unknown_piece_decodes_to_sentencepiece_surface() -> None:
    sp, tok = LEGACY.processor, TOKENIZERS[id(LEGACY)]
    ids = sp.encode(f"{GEORGIAN} x")
    assert sp.unk_id() in ids
    assert tok.decode(ids) == sp.decode(ids) == " \u2047  x"


def test_unsupported_model_types_are_refused() -> None:
    proto = parse_model_proto(NEOX.data, "tiny-neox")
    proto.trainer_spec.model_type = 3
    word_model = SentencePieceModel(NEOX.path, proto.SerializeToString(), proto)
    with pytest.raises(TokcheckError, match="word model"):
        build_tokenizer(word_model)


# -- the written directory, through transformers ------------------------------------------


def _export(source: Path, outdir: Path, **kwargs: object) -> export_module.ExportResult:
    resolved = resolve(str(source))
    model = _load(resolved.model_file)
    return export(resolved, model, outdir, texts=PROBES, examples=100, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name", ["tiny-neox", "tiny-bilingual", "tiny-legacy", "trained-bpe", "shared"]
)
def test_autotokenizer_on_export_matches_sentencepiece(
    name: str, bpe_model: Path, tmp_path: Path
) -> None:
    from transformers import AutoTokenizer

    if name == "shared":
        sources = _shared_models()
        if not sources:
            pytest.skip(f"{SHARED} is absent")
    else:
        sources = [bpe_model if name == "trained-bpe" else FIXTURES / name]
    for i, source in enumerate(sources):
        result = _export(source, tmp_path / f"out{i}")
        # Runs of one-character pieces hold float32 ties on ../shared's Japanese model: passed
        # with that caveat, never a divergence.
        assert result.passed, [t.summary() for t in result.tallies]
        assert all(t.mismatched == t.decode_mismatched == 0 for t in result.tallies)
        tok = AutoTokenizer.from_pretrained(str(tmp_path / f"out{i}"))
        sp = _load(resolve(str(source)).model_file).processor
        for text in (*PROBES, *sample_texts(_load(resolve(str(source)).model_file), 200, 7)):
            ids = sp.encode(text)
            assert tok.encode(text, add_special_tokens=False) == ids, text
            assert tok.encode(text) == ids, text
            assert tok.decode(ids) == sp.decode(ids), text


def test_rinna_card_answers_through_autotokenizer(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    _export(FIXTURES / "tiny-neox", tmp_path / "out")
    tok = AutoTokenizer.from_pretrained(str(tmp_path / "out"))
    ids = tok.encode(CARD_TEXT)
    assert tok.decode(ids) == CARD_TEXT
    assert tok.decode(ids).count(" ") == 7
    georgian = tok.encode(GEORGIAN)
    assert all(t.startswith("<0x") for t in tok.convert_ids_to_tokens(georgian))
    assert tok.decode(georgian) == GEORGIAN
    assert (tok.bos_token_id, tok.eos_token_id, tok.unk_token_id, tok.pad_token_id) == (2, 3, 1, 0)


def test_export_writes_the_documented_files(tmp_path: Path) -> None:
    result = _export(FIXTURES / "tiny-bilingual", tmp_path / "out")
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == sorted(result.files)
    assert set(result.files) == {
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "spiece.model",
        "config.json",
        "tokcheck_export.json",
    }
    assert (out / "spiece.model").read_bytes() == (
        FIXTURES / "tiny-bilingual" / "spiece.model"
    ).read_bytes()
    config = json.loads((out / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert (config["add_bos_token"], config["add_eos_token"]) == (False, False)
    assert config["split_special_tokens"] is True
    assert config["bos_token"] == "<s>"
    assert config["pad_token"] == "[PAD]"
    assert result.to_dict()["status"] == "exact"
    record = json.loads((out / "tokcheck_export.json").read_text(encoding="utf-8"))
    assert record["status"] == "exact"
    # The caller's texts, the lines derived from the model, 100 generated strings and, the
    # model having user-defined symbols ("\n", "\t"), 100 more rich in them, and the runs of
    # unknown characters.
    model = _load(FIXTURES / "tiny-bilingual" / "spiece.model")
    unknown, derived, structured = unknown_texts(model), model_texts(model), structured_texts()
    assert unknown
    assert derived
    generated = 200 + len(unknown) + len(structured)
    assert record["lines"] == result.lines == len(PROBES) + len(derived) + generated
    assert set(record["verified"]) == {"tokenizers", "transformers", "transformers+special"}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


# -- the output directory -----------------------------------------------------------------


def test_existing_outdir_without_force_is_refused_and_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(OutputError, match="not empty"):
        _export(FIXTURES / "tiny-neox", out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_force_replaces_an_existing_outdir(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    _export(FIXTURES / "tiny-neox", out, force=True)
    assert not (out / "keep.txt").exists()
    assert (out / "tokenizer.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_empty_existing_outdir_and_missing_parents_are_fine(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    _export(FIXTURES / "tiny-neox", tmp_path / "empty")
    _export(FIXTURES / "tiny-neox", tmp_path / "a" / "b" / "out")
    assert (tmp_path / "a" / "b" / "out" / "tokenizer.json").is_file()


def test_outdir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match="not a directory"):
        _export(FIXTURES / "tiny-neox", tmp_path / "out", force=True)


def test_failure_mid_write_leaves_no_outdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real: Callable[[Path, dict[str, object]], None] = export_module._write_json
    calls: list[Path] = []

    def failing(path: Path, data: dict[str, object]) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(export_module, "_write_json", failing)
    with pytest.raises(OutputError, match="out: cannot write the export: No space"):
        _export(FIXTURES / "tiny-neox", tmp_path / "out")
    assert len(calls) == 2
    assert list(tmp_path.iterdir()) == []


def test_divergence_refuses_unless_forced(tmp_path: Path, precompiled_export: str) -> None:
    resolved = resolve(str(FIXTURES / "tiny-legacy"))
    model = _load(resolved.model_file)
    texts = [precompiled_export]
    with pytest.raises(ExportRefusedError, match="not exact") as refused:
        export(resolved, model, tmp_path / "out", texts=texts, examples=0)
    assert list(tmp_path.iterdir()) == []
    assert not refused.value.result.written
    assert refused.value.result.status == "diverged"
    result = export(resolved, model, tmp_path / "out", texts=texts, examples=0, force=True)
    assert result.written
    assert not result.passed
    assert result.status == "diverged"
    diverged = {t.name for t in result.tallies if t.diverged}
    assert diverged == {"tokenizers", "transformers", "transformers+special"}
    example = next(e for e in result.tallies[0].counterexamples if e.text == precompiled_export)
    assert example.reference_ids != example.candidate_ids
    assert (tmp_path / "out" / "tokenizer.json").is_file()


def test_a_refused_export_is_a_verdict_not_bad_input(
    tmp_path: Path, precompiled_export: str
) -> None:
    """A library caller that catches bad input (TokcheckError) must not catch a refusal."""
    from tokcheck.errors import Verdict

    assert not issubclass(ExportRefusedError, TokcheckError)
    resolved = resolve(str(FIXTURES / "tiny-legacy"))
    model = _load(resolved.model_file)
    try:
        export(resolved, model, tmp_path / "out", texts=[precompiled_export], examples=0)
    except TokcheckError:
        pytest.fail("a refused export was caught as bad input")
    except Verdict:
        return
    pytest.fail("the export was not refused")


def test_float32_ties_alone_do_not_refuse(tmp_path: Path) -> None:
    resolved = resolve(str(FIXTURES / "broken" / "whitespace-removal-on"))
    model = _load(resolved.model_file)
    result = export(resolved, model, tmp_path / "out", texts=[" heddd eq"], examples=0)
    assert result.passed
    assert result.status == "ties"
    # The text, and runs of one-character pieces among the lines derived from the model.
    assert " heddd eq" in {t.text for t in result.tallies[0].ties}
    assert result.tie >= 1
    assert all(t.mismatched == t.decode_mismatched == 0 for t in result.tallies)
    assert (tmp_path / "out" / "tokenizer.json").is_file()
    record = json.loads((tmp_path / "out" / "tokcheck_export.json").read_text(encoding="utf-8"))
    assert record["status"] == "ties"
    assert record["verified"]["tokenizers"]["tie"] == result.tie


def test_float32_ties_refuse_under_strict(tmp_path: Path) -> None:
    resolved = resolve(str(FIXTURES / "broken" / "whitespace-removal-on"))
    model = _load(resolved.model_file)
    # The text, the lines derived from the model, the runs of unknown characters, structured text.
    lines = 1 + len(model_texts(model)) + len(unknown_texts(model)) + len(structured_texts())
    with pytest.raises(
        ExportRefusedError, match=f"ties: [0-9]+ of {lines} lines differ"
    ) as refused:
        export(resolved, model, tmp_path / "out", texts=[" heddd eq"], examples=0, strict=True)
    assert refused.value.result.status == "ties"
    assert list(tmp_path.iterdir()) == []


def test_bare_model_file_exports_without_config(tmp_path: Path) -> None:
    model = _load(FIXTURES / "tiny-neox" / "spiece.model")
    resolved = ResolvedModel("x", model.path, None, None, None, None, None)
    result = export(resolved, model, tmp_path / "out", examples=20)
    assert "config.json" not in result.files
    assert "spiece.model" in result.files


# -- the source directory's special-token settings ------------------------------------------


def _llama_dir(tmp_path: Path, *, add_eos: bool = False, added: object = None) -> Path:
    """tiny-neox laid out as a Llama-style repository: LlamaTokenizer over tokenizer.model,
    add_bos_token, and a <pad> token that only added_tokens.json gives an id (1000)."""
    directory = tmp_path / "llama"
    directory.mkdir()
    (directory / "tokenizer.model").write_bytes(
        (FIXTURES / "tiny-neox" / "spiece.model").read_bytes()
    )
    names = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "[UNK]", "pad_token": "<pad>"}
    config = {
        "tokenizer_class": "LlamaTokenizer",
        "add_bos_token": True,
        "add_eos_token": add_eos,
        "legacy": False,
        **names,
    }
    (directory / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    (directory / "special_tokens_map.json").write_text(json.dumps(names), encoding="utf-8")
    added = {"<pad>": 1000} if added is None else added
    (directory / "added_tokens.json").write_text(json.dumps(added), encoding="utf-8")
    return directory


@pytest.mark.parametrize("add_eos", [False, True], ids=["bos", "bos+eos"])
def test_export_keeps_the_directory_special_token_settings(tmp_path: Path, add_eos: bool) -> None:
    from transformers import AutoTokenizer

    source = _llama_dir(tmp_path, add_eos=add_eos)
    result = _export(source, tmp_path / "out")
    # encode(text) with the bos (and eos) the directory asks for is judged exact, not flagged.
    assert {t.name: t.status for t in result.tallies} == dict.fromkeys(
        ("tokenizers", "transformers", "transformers+special"), "exact"
    )
    out = tmp_path / "out"
    config = json.loads((out / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert (config["add_bos_token"], config["add_eos_token"]) == (True, add_eos)
    assert (config["pad_token"], config["unk_token"], config["split_special_tokens"]) == (
        "<pad>",
        "[UNK]",
        True,
    )
    assert json.loads((out / "added_tokens.json").read_text(encoding="utf-8")) == {"<pad>": 1000}
    record = json.loads((out / "tokcheck_export.json").read_text(encoding="utf-8"))
    assert record["special_tokens"]["pad_token"] == {"content": "<pad>", "id": 1000}
    assert (record["add_bos_token"], record["add_eos_token"]) == (True, add_eos)

    tok = AutoTokenizer.from_pretrained(str(out))
    sp = _load(source / "tokenizer.model").processor
    ids = (tok.bos_token_id, tok.eos_token_id, tok.unk_token_id, tok.pad_token_id)
    assert ids == (2, 3, 1, 1000)
    eos = [3] if add_eos else []
    for text in (*PROBES, "<pad>", "x<pad>y <s>"):
        # Special tokens in text, <pad> included, encode as sentencepiece encodes the text.
        assert tok.encode(text, add_special_tokens=False) == sp.encode(text), text
        assert tok.encode(text) == [2, *sp.encode(text), *eos], text
        assert tok.decode(tok.encode(text)) == sp.decode(sp.encode(text)), text
    batch = tok(["a", "a b c"], padding=True)["input_ids"]
    assert batch[0][-1] == 1000


def test_verification_fails_an_encode_without_the_bos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = target.KeptSpecials.apply

    def without_post_processor(self: target.KeptSpecials, tokenizer: Tokenizer) -> Tokenizer:
        built = real(self, tokenizer)
        built.post_processor = None  # the bos is no longer added
        return built

    monkeypatch.setattr(target.KeptSpecials, "apply", without_post_processor)
    with pytest.raises(ExportRefusedError) as refused:
        _export(_llama_dir(tmp_path), tmp_path / "out")
    tallies = {t.name: t for t in refused.value.result.tallies}
    assert tallies["tokenizers"].status == tallies["transformers"].status == "exact"
    special = tallies["transformers+special"]
    assert special.status == "diverged"
    # Every line lacks its bos, the empty one included ([2] expected, [] given).
    assert special.mismatched == special.lines
    assert special.counterexamples[0].reference_ids[0] == 2


def test_verification_fails_a_wrong_expected_special(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An eos the written tokenizer does not add: the judge says so on every line.
    monkeypatch.setattr(target.KeptSpecials, "added_ids", property(lambda s: ((2,), (3,))))
    with pytest.raises(ExportRefusedError) as refused:
        _export(_llama_dir(tmp_path), tmp_path / "out")
    (special,) = [t for t in refused.value.result.tallies if t.name == "transformers+special"]
    assert special.mismatched == special.lines


def test_export_of_the_bpe_llama_directory_keeps_its_settings(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    for fixture in ("bpe-32k", "bpe-32k-legacy"):
        out = tmp_path / fixture
        result = _export(FIXTURES / fixture, out)
        assert result.written
        assert result.status == "exact"
        assert "added_tokens.json" in result.files
        tok = AutoTokenizer.from_pretrained(str(out))
        ids = (tok.bos_token_id, tok.eos_token_id, tok.unk_token_id, tok.pad_token_id)
        assert ids == (1, 2, 0, 32000)
        assert tok.convert_ids_to_tokens(32000) == "<pad>"
        for text in ("Hello world", "x <pad> y", ""):
            own = tok.encode(text, add_special_tokens=False)
            assert tok.encode(text) == [1, *own]
            assert 32000 not in own


@pytest.mark.parametrize(
    ("tokenizer_class", "bos"),
    [("LlamaTokenizer", True), ("LlamaTokenizerFast", True), ("PreTrainedTokenizerFast", False)],
)
def test_an_unset_add_bos_token_takes_the_class_default(
    tmp_path: Path, tokenizer_class: str, bos: bool
) -> None:
    source = _llama_dir(tmp_path)
    config_path = source / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    del config["add_bos_token"], config["add_eos_token"]
    config["tokenizer_class"] = tokenizer_class
    config_path.write_text(json.dumps(config), encoding="utf-8")
    result = _export(source, tmp_path / "out")
    assert result.status == "exact"
    written = json.loads((tmp_path / "out" / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert (written["add_bos_token"], written["add_eos_token"]) == (bos, False)


@pytest.mark.parametrize(
    ("added", "says"),
    [
        ({"<pad>": 1001}, "added_tokens.json: '<pad>' -> 1001: ids past the 1000 pieces"),
        ({"<pad>": 7}, "added_tokens.json: '<pad>' -> 7: id 7 is the sentencepiece piece"),
        ({"<other>": 1000}, "special_tokens_map.json names pad_token '<pad>', which is"),
    ],
    ids=["gap", "collision", "unresolved-pad"],
)
def test_export_refuses_special_tokens_it_cannot_keep(
    tmp_path: Path, added: object, says: str
) -> None:
    with pytest.raises(TokcheckError, match="cannot export: ") as refused:
        _export(_llama_dir(tmp_path, added=added), tmp_path / "out")
    assert says in str(refused.value)
    assert not (tmp_path / "out").exists()


def test_a_bos_that_only_added_tokens_json_gives_is_kept_and_judged(tmp_path: Path) -> None:
    """The bos is an added token past the vocabulary: encode() adds its id, its decode is of
    the text, and a counterexample can name it (it is no piece of the model)."""
    from transformers import AutoTokenizer

    source = _llama_dir(tmp_path, added={"<pad>": 1000, "<extra>": 1001})
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        path = source / name
        config = json.loads(path.read_text(encoding="utf-8"))
        config["bos_token"] = "<extra>"
        path.write_text(json.dumps(config), encoding="utf-8")
    result = _export(source, tmp_path / "out", show=3)
    assert result.status == "exact"
    tok = AutoTokenizer.from_pretrained(str(tmp_path / "out"))
    sp = _load(source / "tokenizer.model").processor
    assert tok.encode("x y") == [1001, *sp.encode("x y")]
