"""compare: sentencepiece reference vs every Hugging Face loading path, per transformers line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tokcheck.candidates.hf import transformers_version
from tokcheck.candidates.registry import load_candidates
from tokcheck.cli import main
from tokcheck.compare.options import CompareOptions
from tokcheck.compare.report import CompareReport
from tokcheck.compare.run import compare
from tokcheck.inputs.probes import BUILTIN_PROBES, numbered
from tokcheck.model.profiles import Profile
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import resolve
from tokcheck.parallel.runner import judge_lines

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MAJOR = int((transformers_version() or "0").split(".")[0])
only5 = pytest.mark.skipif(MAJOR < 5, reason="asserts transformers 5.x behaviour")
only4 = pytest.mark.skipif(MAJOR != 4, reason="asserts transformers 4.x behaviour")


def _identity_t5_load_error() -> str | None:
    """Why AutoTokenizer cannot load a model with no precompiled_charsmap, or None if it can.

    Some transformers 5.x releases (5.17 among them; upstream issue 48942) raise here, so
    tokcheck's users on those releases get an exception rather than wrong ids.
    """
    from transformers import AutoTokenizer

    try:
        AutoTokenizer.from_pretrained(str(FIXTURES / "tiny-neox"))
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    return None


IDENTITY_LOAD_ERROR = _identity_t5_load_error()
# Tests of what the default path returns need it to load; whether it loads is asserted above.
loads = pytest.mark.skipif(
    IDENTITY_LOAD_ERROR is not None, reason=f"default path raises: {IDENTITY_LOAD_ERROR}"
)


def _run(path: Path, profile: Profile | None = None, **options: Any) -> CompareReport:
    resolved = resolve(str(path))
    model = SentencePieceModel.load(resolved.model_file)
    return compare(resolved, model, CompareOptions(**options), profile=profile)


@pytest.mark.transformers5
@only5
def test_transformers5_every_path_is_the_same_lossy_t5_tokenizer() -> None:
    report = _run(FIXTURES / "tiny-neox", examples=200)
    if IDENTITY_LOAD_ERROR is not None:
        assert "precompiled_charsmap" in IDENTITY_LOAD_ERROR
        assert [u.name for u in report.load_failures] == ["default"]
        assert not report.passed
        return
    by_name = {c.name: c for c in report.candidates}
    assert {"default", "slow", "fast", "sentencepiece-backend"} <= set(by_name)
    # use_fast is ignored: all four paths load to one tokenizer, encoded once.
    assert {by_name[n].same_as for n in ("slow", "fast", "sentencepiece-backend")} == {"default"}
    default = by_name["default"]
    assert "T5Tokenizer" in default.cls
    # Characters the vocabulary lacks become id 2, which is <s> in this vocabulary: a control
    # id the reference never produces from text.
    assert default.special_introduced > 0
    assert default.whitespace_collapsed > 0
    assert not report.passed
    assert default.status == "diverged"
    shortest = default.counterexamples[0]
    assert "mismatched" in shortest.kinds
    assert shortest.text == " "  # the minimal counterexample: one space vanishes
    assert shortest.reference_pieces == ["▁"]
    assert shortest.candidate_pieces == []


def test_default_path_that_raises_fails_compare(
    unloadable_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = unloadable_dir
    report = _run(directory, examples=10)
    assert [u.name for u in report.load_failures] == ["default"]
    assert report.load_failures[0].reason.startswith("failed to load: ")
    assert not report.passed
    assert report.to_dict()["load_failures"] == ["default"]
    assert main(["compare", str(directory), "--examples", "10"]) == 1
    out = " ".join(capsys.readouterr().out.split())  # the words, however the lines wrap
    assert "failed: the Hugging Face loading path raises (default failed to load: " in out
    assert "tokcheck export" in out


def test_explicit_candidate_that_does_not_apply_is_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["compare", str(FIXTURES / "tiny-neox"), "--candidate", "tokenizer.json"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "candidate tokenizer.json does not apply here: no tokenizer.json" in err


@pytest.mark.transformers4
@only4
def test_transformers4_slow_ids_match_fast_diverges() -> None:
    report = _run(FIXTURES / "tiny-neox", examples=200, probes=False)
    by_name = {c.name: c for c in report.candidates}
    assert by_name["slow"].cls.endswith("T5Tokenizer (slow)")
    assert by_name["slow"].mismatched == 0
    assert by_name["fast"].mismatched > 0
    assert by_name["fast"].unk_introduced > 0
    assert by_name["default"].same_as is None
    assert by_name["fast"].same_as == "default"
    assert not report.passed  # the default path of 4.57 is the fast class


@pytest.mark.transformers5
@only5
@loads
def test_georgian_becomes_unk_id_2_on_the_default_path() -> None:
    report = _run(
        FIXTURES / "tiny-neox", examples=0, probes=False, prompts=0, candidates=["default"]
    )
    resolved = resolve(str(FIXTURES / "tiny-neox"))
    model = SentencePieceModel.load(resolved.model_file)
    [cand], _ = load_candidates(resolved, model, ["default"])
    ids = cand.encode_batch(["გამარჯობა"])[0]
    assert model.processor.decode(model.processor.encode("გამარჯობა")) == "გამარჯობა"
    assert 2 in ids
    assert not any(p.startswith("<0x") for p in cand.pieces(ids))
    assert report.candidates[0].lines == 0


@loads
def test_corpus_lines_that_are_not_utf8_are_reported_and_skipped(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes("吾輩は猫である\n".encode() + b"\xff\xfe broken\n" + b"plain line\n")
    report = _run(
        FIXTURES / "tiny-neox",
        corpora=[corpus],
        examples=0,
        probes=False,
        prompts=0,
        candidates=["default"],
    )
    assert report.inputs["corpus_lines"] == 2
    assert report.inputs["skipped_lines"] == [
        {"path": str(corpus), "line": 2, "reason": "not UTF-8"}
    ]
    assert report.candidates[0].lines == 2


def test_tokenizer_json_candidate_and_unknown_candidate(tmp_path: Path) -> None:
    resolved = resolve(str(FIXTURES / "tiny-neox"))
    model = SentencePieceModel.load(resolved.model_file)
    loaded, missing = load_candidates(resolved, model, ["tokenizer.json"])
    assert loaded == []
    assert missing[0].reason == "no tokenizer.json in the directory"
    assert main(["compare", str(FIXTURES / "tiny-neox"), "--candidate", "nope"]) == 2


@loads
def test_cli_json_shape_and_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["compare", str(FIXTURES / "tiny-neox"), "--examples", "50", "--json", "--show", "2"]
    )
    data = json.loads(capsys.readouterr().out)
    assert data["reference"] == "sentencepiece"
    assert set(data["candidates"][0]) >= {
        "name",
        "class",
        "lines",
        "mismatched",
        "differing",
        "tie",
        "unk_introduced",
        "special_introduced",
        "decode_mismatched",
        "whitespace_collapsed",
        "status",
        "counterexamples",
        "ties",
    }
    # The default path of every transformers line diverges on this fixture (or fails to load).
    assert (code, data["passed"]) == (1, False)
    assert data["next_step"].endswith("load the exported directory instead")
    examples = data["candidates"][0]["counterexamples"]
    # The 2 shortest of each source of input, shortest first, each with its origin and source.
    sources = [e["source"] for e in examples]
    assert all(sources.count(s) <= 2 for s in sources)
    assert {"probe", "hypothesis"} <= set(sources)
    assert all(e["origin"].startswith(f"{e['source']}[") for e in examples)
    lengths = [len(e["text"]) for e in examples]
    assert lengths == sorted(lengths)


def test_missing_corpus_is_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["compare", str(FIXTURES / "tiny-neox"), "--corpus", str(tmp_path / "no.txt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "no such corpus file" in err


@pytest.mark.parametrize(
    "name", ["sentencepiece_test_model.model", "sentencepiece_test_ja_model.model"]
)
def test_real_models_compare_runs_and_reports(shared: Path, name: str) -> None:
    report = _run(shared / "models" / name, examples=100, candidates=["default"])
    default = report.candidates[0]
    assert default.lines > 100
    # Every counted divergence comes with at least one concrete counterexample.
    assert (default.mismatched + default.decode_mismatched == 0) == (not default.counterexamples)


# Llama-style directories: LlamaTokenizer, add_bos_token true, legacy false and true.
LLAMA = ["bpe-32k", "bpe-32k-legacy"]
# On the 44 built-in probes, per fixture and transformers line: each path's class and
# (mismatched, decode_mismatched); paths that load one tokenizer share one entry.
LLAMA_PROBES = {
    5: {
        "bpe-32k": {"default": ("LlamaTokenizer (fast)", 7, 5)},
        "bpe-32k-legacy": {"default": ("LlamaTokenizer (fast)", 10, 8)},
    },
    4: {
        "bpe-32k": {
            "default": ("LlamaTokenizerFast (fast)", 7, 5),
            "slow": ("LlamaTokenizer (slow)", 1, 0),
        },
        "bpe-32k-legacy": {
            "default": ("LlamaTokenizerFast (fast)", 8, 7),
            "slow": ("LlamaTokenizer (slow)", 1, 6),
        },
    },
}


@pytest.mark.parametrize("fixture", LLAMA)
def test_llama_directories_load_on_every_path_and_are_judged(fixture: str) -> None:
    # The paths as compare loads them from the directory, judged on the probes alone.
    resolved = resolve(str(FIXTURES / fixture))
    model = SentencePieceModel.load(resolved.model_file)
    loaded, unavailable = load_candidates(resolved, model, ["default", "slow", "fast"])
    assert unavailable == []
    tallies = judge_lines(model, loaded, numbered(BUILTIN_PROBES))
    by_name = {c.name: c for c in tallies}
    expected = LLAMA_PROBES[MAJOR][fixture]
    for name, tally in by_name.items():
        own = tally.same_as or name
        cls, mismatched, decode_mismatched = expected[own]
        assert tally.cls.endswith(cls), (name, tally.cls)
        assert tally.lines == 44
        # add_bos_token is true, but the paths are judged on the text's own ids: a bos
        # would make all 44 lines differ.
        assert (tally.mismatched, tally.decode_mismatched) == (mismatched, decode_mismatched)
    # The fast path keeps one space too few with the dummy prefix (legacy false).
    if fixture == "bpe-32k":
        space = next(e for e in by_name["default"].counterexamples if e.text == " ")
        assert (space.reference_pieces, space.candidate_pieces) == (["▁▁"], ["▁"])
    assert all(t.diverged for t in tallies)


@pytest.mark.parametrize("fixture", LLAMA)
def test_llama_candidates_encode_without_the_bos_that_encode_adds(fixture: str) -> None:
    from transformers import AutoTokenizer

    resolved = resolve(str(FIXTURES / fixture))
    model = SentencePieceModel.load(resolved.model_file)
    loaded, _ = load_candidates(resolved, model, ["default", "slow"])
    text = "Hello world"
    for candidate in loaded:
        assert candidate.encode_batch([text]) == [model.processor.encode(text)]
    for kwargs in ({}, {"use_fast": False}):
        tok = AutoTokenizer.from_pretrained(str(FIXTURES / fixture), **kwargs)
        assert tok.encode(text) == [1, *model.processor.encode(text)]
        assert (tok.pad_token_id, len(tok)) == (32000, 32001)


def _hf_paths() -> list[tuple[str, dict[str, bool]]]:
    fixtures = ["tiny-neox", "tiny-bilingual", "tiny-legacy", "legacy-1b", *LLAMA]
    return [(f, kw) for f in fixtures for kw in ({}, {"use_fast": False})]


@pytest.mark.parametrize(("fixture", "kwargs"), _hf_paths())
def test_candidate_encodes_and_decodes_as_transformers_does(
    fixture: str, kwargs: dict[str, bool]
) -> None:
    """compare may call the backend directly; what it reads must be what transformers returns."""
    from transformers import AutoTokenizer

    from tokcheck.candidates.hf import from_transformers
    from tokcheck.inputs.probes import BUILTIN_PROBES, generation_alphabet, hypothesis_strings

    directory = FIXTURES / fixture
    try:
        tok = AutoTokenizer.from_pretrained(str(directory), **kwargs)
    except Exception as e:
        pytest.skip(f"transformers {MAJOR}.x cannot load {fixture}: {type(e).__name__}")
    model = SentencePieceModel.load(resolve(str(directory)).model_file)
    texts = [*BUILTIN_PROBES, *hypothesis_strings(300, 1, generation_alphabet(model))]
    candidate = from_transformers("default", tok)
    ids = candidate.encode_batch(texts)
    assert ids == tok(texts, add_special_tokens=False)["input_ids"]
    assert candidate.decode_batch(ids) == tok.batch_decode(ids)


def test_a_class_that_overrides_the_call_is_encoded_through_transformers() -> None:
    from transformers import AutoTokenizer

    from tokcheck.candidates.hf import from_transformers

    tok = AutoTokenizer.from_pretrained(str(FIXTURES / "tiny-legacy"))

    class Shouting(type(tok)):  # type: ignore[misc]
        def __call__(self, text: list[str], **kwargs: object) -> object:
            return super().__call__([t.upper() for t in text], **kwargs)

        def batch_decode(self, sequences: list[list[int]], **kwargs: object) -> list[str]:
            return [t.lower() for t in super().batch_decode(sequences, **kwargs)]

    tok.__class__ = Shouting
    candidate = from_transformers("default", tok)
    ids = candidate.encode_batch(["cat sat"])
    assert ids == tok(["cat sat"], add_special_tokens=False)["input_ids"]
    assert ids != [tok.backend_tokenizer.encode("cat sat", add_special_tokens=False).ids]
    assert candidate.decode_batch(ids) == ["cat sat"]


def test_prompts_are_judged_lines_labelled_by_format() -> None:
    from tokcheck.inputs.conversations import DEFAULT_CONVERSATIONS

    report = _run(FIXTURES / "tiny-neox", examples=0, probes=False, candidates=["exported"])
    n = DEFAULT_CONVERSATIONS
    # No profile for a fixture path: both of the cards' formats, and the report says so.
    assert report.inputs["prompts"] == report.candidates[0].lines == 2 * n
    assert report.prompts is not None
    assert report.prompts.formats == ["nl-tag", "newline"]
    assert report.prompts.formats_from == "no profile: both formats"
    # sentencepiece and the exported tokenizer give every conversation back after clean-up.
    assert report.prompts.reference.differing == 0
    assert [(c.name, c.differing) for c in report.prompts.candidates] == [("exported", 0)]
    assert report.candidates[0].status == "exact"
    assert report.to_dict()["prompts"]["prompts"] == 2 * n


@loads
def test_prompts_diverging_on_the_default_path_carry_their_labels() -> None:
    from tokcheck.inputs.conversations import DEFAULT_CONVERSATIONS
    from tokcheck.model.profiles import BUILTIN_PROFILES

    profile = BUILTIN_PROFILES["rinna/bilingual-gpt-neox-4b"]
    report = _run(
        FIXTURES / "tiny-bilingual",
        examples=0,
        probes=False,
        candidates=["default"],
        profile=profile,
        show=100,
    )
    default = report.candidates[0]
    origins = {e.origin for e in default.counterexamples}
    n = DEFAULT_CONVERSATIONS
    # The profile's format only; every prompt differs on the default path of either
    # transformers line (the fast T5 class drops the trailing space of "システム: ").
    assert origins == {f"prompt[newline:{i}]" for i in range(n)}
    assert all(e.text.endswith("\nシステム: ") for e in default.counterexamples)
    assert report.prompts is not None
    assert report.prompts.formats_from == f"profile {profile.name}"
    assert report.prompts.candidates[0].differing == n
    example = report.prompts.candidates[0].example
    assert example is not None
    assert example["cleaned"] != example["expected"]


def test_prompt_cleanup_of_a_model_that_loses_text_is_a_warning() -> None:
    # tiny-legacy: no byte fallback and whitespace removal, so sentencepiece itself cannot give
    # the conversation back; that is the model's doing, not a candidate's.
    report = _run(FIXTURES / "tiny-legacy", examples=0, probes=False, candidates=["exported"])
    assert report.prompts is not None
    assert report.prompts.reference.differing == report.prompts.prompts
    assert report.passed
    assert any("sentencepiece itself does not give back" in w for w in report.warnings)


def test_cli_profile_picks_the_prompt_format(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["compare", str(FIXTURES / "tiny-neox"), "--examples", "0", "--json"]
    argv += ["--candidate", "exported", "--profile", "rinna/japanese-gpt-neox-3.6b"]
    assert main([*argv, "--prompts", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["prompts"]["formats"] == ["nl-tag"]
    assert data["inputs"]["prompts"] == 3
    probes = 44 + data["inputs"]["injection"] + data["inputs"]["verification"]
    assert data["candidates"][0]["lines"] == probes + 3
    assert main([*argv, "--prompts", "0"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["prompts"] is None
    assert data["candidates"][0]["lines"] == probes


@loads
def test_cli_exhaustive_exported_exact_default_diverges(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tokcheck.inputs import exhaustive
    from tokcheck.inputs.probes import BUILTIN_PROBES

    directory = FIXTURES / "tiny-neox"
    argv = ["compare", str(directory), "--examples", "0", "--prompts", "0", "--json"]
    argv += ["--exhaustive", "--candidate", "exported", "--candidate", "default", "--show", "3"]
    assert main(argv) == 1
    data = json.loads(capsys.readouterr().out)
    resolved = resolve(str(directory))
    size = exhaustive.size(SentencePieceModel.load(resolved.model_file), resolved)
    probes = 44 + data["inputs"]["injection"] + data["inputs"]["verification"]
    assert data["inputs"]["lines"] == probes + size["lines"]
    probe_bytes = sum(len(t.encode()) + 1 for t in BUILTIN_PROBES)
    # The injection lines' bytes come on top (their texts depend on the loaded candidates).
    assert data["inputs"]["bytes"] > size["bytes"] + probe_bytes
    assert data["inputs"]["exhaustive"]["unicode"] == size["unicode"]
    by_name = {c["name"]: c for c in data["candidates"]}
    assert by_name["exported"]["status"] == "exact"
    assert by_name["exported"]["lines"] == probes + size["lines"]
    default = by_name["default"]
    assert default["status"] == "diverged"
    # Nearly every generated line differs: byte fallback is dropped on both transformers lines.
    assert default["differing"] > size["codepoints"]
    # The exhaustive lines are a source of their own: its 3 shortest (one character each)
    # are kept, the first in input order among equals, whatever the probes keep.
    kept = [e for e in default["counterexamples"] if e["source"] == "exhaustive"]
    assert len(kept) == 3
    assert all(e["origin"].startswith("codepoint[U+") and len(e["text"]) == 1 for e in kept)
    assert [e["text"] for e in kept] == sorted(e["text"] for e in kept)
    assert kept[0]["origin"] in ("codepoint[U+0000]", "codepoint[U+0001]")
    if MAJOR >= 5:
        # 5.x maps characters the vocabulary lacks to id 2, <s> here.
        assert default["special_introduced"] > size["codepoints"]
    else:
        assert default["unk_introduced"] > size["codepoints"]


@pytest.mark.transformers5
@only5
def test_the_sentencepiece_class_encodes_through_sentencepiece_but_decodes_byte_names() -> None:
    """transformers 5's SentencePieceBackend on the model file: its plain lines' ids are
    sentencepiece's (it calls the library), its decode writes byte pieces as their names."""
    report = _run(FIXTURES / "tiny-neox", examples=100, candidates=["sentencepiece-class"])
    (got,) = report.candidates
    assert "SentencePieceBackend" in got.cls
    assert got.decode_mismatched > 0
    named = [c for c in got.counterexamples if "<0x" in c.candidate_decoded]
    assert named
    assert all(c.reference_ids == c.candidate_ids for c in named)


@pytest.mark.transformers4
def test_the_sentencepiece_class_does_not_apply_before_transformers5(
    capsys: pytest.CaptureFixture[str],
) -> None:
    if int((transformers_version() or "0").split(".")[0]) >= 5:
        pytest.skip("asserts transformers 4.x behaviour")
    code = main(["compare", str(FIXTURES / "tiny-neox"), "--candidate", "sentencepiece-class"])
    assert code == 2
    assert "has no SentencePieceBackend" in capsys.readouterr().err
