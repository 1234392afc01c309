"""GGUF: reading a GGUF's tokenizer, the static findings against the model, and the llama.cpp
candidates (where llama-cpp-python is installed), on GGUFs written the way llama.cpp's converter
writes them and faithfully; the 32-byte decode of the Python binding on a long piece."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fixturebuild import build

from tokcheck.candidates import llamacpp
from tokcheck.candidates.registry import load_candidates
from tokcheck.checks.gguf import check_gguf
from tokcheck.cli import main
from tokcheck.compare.options import CompareOptions
from tokcheck.compare.run import compare
from tokcheck.errors import TokcheckError
from tokcheck.judge.stream import server_stream
from tokcheck.model.gguf_vocab import read_gguf
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import resolve
from tokcheck.report.cases import FAIL, PASS, compare_cases

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GGUF = FIXTURES / "gguf"
SHARED = Path(__file__).resolve().parents[2] / "shared"
LLMJP = SHARED / "published-models" / "llm-jp-tokenizer-100k.ver3.1.model"
# What the static findings say of each fixture GGUF, written as the converter writes them.
FOUND = {
    "neox-3.6b-as-llama": [
        "gguf.tokenizer_model",
        "gguf.add_space_prefix",
        "gguf.unk_id",
        "gguf.pad_id",
    ],
    "neox-3.6b-as-t5": ["gguf.byte_fallback", "gguf.unk_id"],
    "bpe-32k-as-llama": ["gguf.token_types"],
    "bpe-32k-faithful": [],
}
MODELS = {"neox-3.6b": "spiece.model", "bpe-32k": "tokenizer.model"}


def _has_llama() -> bool:
    try:
        llamacpp.require()
    except llamacpp.LlamaUnavailable:
        return False
    return True


needs_llama = pytest.mark.skipif(not _has_llama(), reason="llama-cpp-python is not installed")


def _compared(directory: str, gguf: str, examples: int) -> Any:
    """compare on a fixture directory with its exported tokenizer and a fixture GGUF."""
    resolved = resolve(str(FIXTURES / directory))
    model = SentencePieceModel.load(resolved.model_file)
    return compare(resolved, model, CompareOptions(candidates=["exported"], examples=examples, prompts=0, ggufs=[GGUF / f"{gguf}.gguf"]))  # fmt: skip


def _fixture(name: str) -> str:
    return name.split("-as-")[0].removesuffix("-faithful")


def _model(name: str) -> SentencePieceModel:
    directory = _fixture(name)
    return SentencePieceModel.load(FIXTURES / directory / MODELS[directory])


@pytest.mark.parametrize("name", sorted(FOUND))
def test_fixture_ggufs_rebuild_byte_for_byte(tmp_path: Path, name: str) -> None:
    only = f"gguf/{name}.gguf"
    subprocess.run(
        [sys.executable, str(FIXTURES / "build.py"), "--only", only, "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert (tmp_path / only).read_bytes() == (FIXTURES / only).read_bytes()


@pytest.mark.parametrize("name", sorted(FOUND))
def test_static_findings_name_what_the_converter_changed(name: str) -> None:
    report = check_gguf(read_gguf(GGUF / f"{name}.gguf"), _model(name))
    assert report.failed == FOUND[name]
    assert len(report.checks) == 13
    for check in report.checks:
        assert check.message  # every finding says what it saw, failed or not


def test_findings_say_which_key_to_write() -> None:
    report = check_gguf(read_gguf(GGUF / "neox-3.6b-as-llama.gguf"), _model("neox-3.6b"))
    said = {c.name: c.message for c in report.checks}
    assert "not written: llama.cpp's default" in said["gguf.add_space_prefix"]
    assert "tokenizer.ggml.add_space_prefix=false" in said["gguf.add_space_prefix"]
    assert "tokenizer.ggml.unknown_token_id=1" in said["gguf.unk_id"]
    assert "'[PAD]'" in said["gguf.unk_id"]  # llama.cpp's default unk (0) is the model's pad
    types = {
        c.name: c.message
        for c in check_gguf(read_gguf(GGUF / "bpe-32k-as-llama.gguf"), _model("bpe-32k")).checks
    }["gguf.token_types"]
    assert "21 user_defined pieces written as normal" in types
    assert report.unexact is not None
    assert "byte fallback" in report.unexact


def test_a_faithful_gguf_of_a_unigram_model_without_byte_fallback_can_be_exact() -> None:
    model = SentencePieceModel.load(FIXTURES / "tiny-legacy" / "spiece.model")
    assert check_gguf(read_gguf(GGUF / "neox-3.6b-as-t5.gguf"), model).unexact is None


def test_inspect_shows_what_llama_cpp_makes_of_missing_keys(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["inspect", str(GGUF / "neox-3.6b-as-llama.gguf"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["llama_cpp_tokenizer"] == "SPM"
    assert data["vocab_size"] == 32_000
    assert data["add_space_prefix"] == {"written": None, "effective": True}
    assert data["special_ids"]["unk"] == {"written": None, "effective": 0}
    assert data["token_types"] == {"byte": 256, "control": 3, "normal": 31740, "unknown": 1}
    assert main(["inspect", str(GGUF / "neox-3.6b-as-t5.gguf")]) == 0
    text = capsys.readouterr().out
    assert "UGM" in text
    assert "unk 2 (not written: llama.cpp's default)" in text


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda d: d / "absent.gguf", "no such GGUF file"),
        (lambda d: _write(d / "text.gguf", b"hello\n"), "not a GGUF file"),
        (
            lambda d: _write(d / "cut.gguf", (GGUF / "bpe-32k-faithful.gguf").read_bytes()[:100]),
            "a damaged GGUF file",
        ),
        (lambda d: d, "not a regular file"),
    ],
    ids=["absent", "not-gguf", "truncated", "directory"],
)
def test_a_bad_gguf_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, said: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(TokcheckError, match=said):
        read_gguf(path)
    assert (
        main(["compare", str(FIXTURES / "tiny-neox"), "--gguf", str(path), "--examples", "5"]) == 2
    )
    err = capsys.readouterr().err
    assert said in err
    assert err.count("\n") == 1


def test_a_gguf_without_a_tokenizer_is_named(tmp_path: Path) -> None:
    import gguf

    path = tmp_path / "weights-only.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(TokcheckError, match="holds no tokenizer"):
        read_gguf(path)


def test_without_llama_cpp_the_static_findings_still_judge(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def absent() -> None:
        raise llamacpp.LlamaUnavailable(f"llama-cpp-python is not installed; {llamacpp.INSTALL}")

    monkeypatch.setattr(llamacpp, "installed", absent)
    args = ["compare", str(FIXTURES / "bpe-32k"), "--candidate", "exported", "--examples", "50"]
    converted = str(GGUF / "bpe-32k-as-llama.gguf")
    assert main([*args, "--gguf", converted, "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["gguf"][0]["failed"] == ["gguf.token_types"]
    assert {u["name"] for u in data["unavailable"]} == {
        "llama.cpp",
        "llama-cpp-python",
        "llama-server",
    }
    # A faithful GGUF passes its findings, and what was not run is a caveat, never a plain pass.
    faithful = str(GGUF / "bpe-32k-faithful.gguf")
    assert main([*args, "--gguf", faithful, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "passed with caveats"
    assert any("llama.cpp was not run" in c and "pip install" in c for c in data["caveats"])
    assert main([*args, "--gguf", faithful, "--strict"]) == 1
    capsys.readouterr()


def test_gate_cases_name_each_finding() -> None:
    resolved = resolve(str(FIXTURES / "bpe-32k"))
    model = SentencePieceModel.load(resolved.model_file)
    ggufs = [GGUF / "bpe-32k-as-llama.gguf", GGUF / "bpe-32k-faithful.gguf"]
    report = compare(
        resolved,
        model,
        CompareOptions(candidates=["exported"], examples=20, prompts=0, ggufs=ggufs),
    )
    cases = {c.name: c for c in compare_cases(report, "bpe-32k")}
    assert cases["gguf.token_types:bpe-32k-as-llama.gguf"].outcome == FAIL
    assert cases["gguf.token_types:bpe-32k-faithful.gguf"].outcome == PASS
    assert "llama.cpp:bpe-32k-faithful.gguf" in report.judged


@needs_llama
def test_llama_cpp_as_t5_turns_byte_fallback_text_into_bos() -> None:
    report = _compared("neox-3.6b", "neox-3.6b-as-t5", 100)
    tally = {t.name: t for t in report.candidates}["llama.cpp"]
    assert tally.mismatched > 0
    assert tally.special_introduced > 0
    [example] = [e for e in tally.counterexamples if e.text == "\x84"] or [tally.counterexamples[0]]
    assert 2 in example.candidate_ids  # id 2, <s>: llama.cpp's UGM default unknown id
    assert not report.passed
    assert "no GGUF of this model tokenizes exactly" in (report.next_step or "")


@needs_llama
def test_llama_cpp_as_llama_adds_a_space_before_every_line() -> None:
    resolved = resolve(str(FIXTURES / "neox-3.6b"))
    model = SentencePieceModel.load(resolved.model_file)
    report = compare(resolved, model, CompareOptions(candidates=["exported"], examples=100, prompts=0, probes=False, ggufs=[GGUF / "neox-3.6b-as-llama.gguf"]))  # fmt: skip
    tally = {t.name: t for t in report.candidates}["llama.cpp"]
    assert tally.mismatched >= 0.9 * tally.lines
    assert all(e.candidate_pieces[0] == "▁" for e in tally.counterexamples)


@needs_llama
def test_a_faithful_bpe_gguf_names_what_remains() -> None:
    """Every key right, and llama.cpp still differs where user-defined pieces meet the space
    prefix: none before a leading one, one again after each (its special-token partition)."""
    report = _compared("bpe-32k", "bpe-32k-faithful", 0)
    model = _model("bpe-32k")
    assert report.ggufs[0].failed == []
    tally = {t.name: t for t in report.candidates}["llama.cpp"]
    vocab = llamacpp.Vocab(GGUF / "bpe-32k-faithful.gguf")
    assert vocab.tokenize("\n") == [723]  # sentencepiece: ['▁', '\n']
    assert model.processor.encode("\n") == [28818, 723]
    assert vocab.tokenize("plain text") == model.processor.encode("plain text")
    assert vocab.detokenize(model.processor.encode("plain text")) == "plain text"
    assert tally.mismatched > 0
    assert {"llama.cpp", "llama-cpp-python"} <= {t.name for t in report.candidates}


@pytest.fixture(scope="module")
def long_piece(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A unigram model without byte fallback holding a 42-byte piece, and its faithful GGUF
    (as t5: llama.cpp runs such a model as sentencepiece does)."""
    out = tmp_path_factory.mktemp("long")
    lines = build.synthetic_lines(7, 3000, 80, 0.3) + [LONG] * 300
    flags = {**build.NEOX_FLAGS, "byte_fallback": False, "character_coverage": 1.0}
    model = out / "spiece.model"
    model.write_bytes(build.train(lines, 1000, flags))
    gguf = out / "long.gguf"
    build.write_gguf(gguf, model.read_bytes(), way="t5")
    return model, gguf


LONG = "世の人に似ずあえかに見え給う"


def test_the_binding_caveat_names_long_tokens(long_piece: tuple[Path, Path]) -> None:
    model, gguf = long_piece
    report = check_gguf(read_gguf(gguf), SentencePieceModel.load(model))
    [caveat] = report.caveats
    assert LONG in caveat
    assert "32 bytes" in caveat


@needs_llama
def test_the_binding_decodes_a_long_piece_to_nothing(long_piece: tuple[Path, Path]) -> None:
    model, gguf = long_piece
    resolved = resolve(str(model))
    loaded = SentencePieceModel.load(model)
    assert len(LONG.encode()) > 32
    assert loaded.processor.encode(LONG) == [loaded.processor.piece_to_id(LONG)]
    corpus = gguf.with_name("long.txt")
    corpus.write_text(f"{LONG}\n{LONG} {LONG}\n", "utf-8")
    report = compare(resolved, loaded, CompareOptions(corpora=[corpus], candidates=["exported"], examples=0, prompts=0, probes=False, ggufs=[gguf], jobs=1))  # fmt: skip
    tallies = {t.name: t for t in report.candidates}
    assert tallies["llama-cpp-python"].decode_mismatched == 2
    assert tallies["llama.cpp"].decode_mismatched == 0
    lost = [e for e in tallies["llama-cpp-python"].counterexamples if LONG in e.text]
    assert lost
    assert all(LONG not in e.candidate_decoded for e in lost)
    # llama.cpp's own decode, with a buffer as large as the answer, keeps it.
    assert llamacpp.Vocab(gguf).detokenize(loaded.processor.encode(LONG)) == LONG


def test_the_server_stream_holds_back_a_split_character() -> None:
    kana = "あ".encode()
    assert server_stream(iter([b"a", kana[:1], kana[1:2], kana[2:], b"b"])) == [
        "a",
        "あ",
        "b",
    ]
    assert server_stream(iter([kana[:2]])) == ["\ufffd"]  # flushed at the end
    assert server_stream(iter([])) == []


@needs_llama
def test_workers_load_the_llama_cpp_candidates(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(f"行 {i} の\tテキスト ☃ {i}\n" for i in range(400)), "utf-8")
    resolved = resolve(str(FIXTURES / "neox-3.6b"))
    model = SentencePieceModel.load(resolved.model_file)
    ggufs = [GGUF / "neox-3.6b-as-t5.gguf"]

    def run(jobs: int) -> dict[str, object]:
        report = compare(resolved, model, CompareOptions(corpora=[corpus], candidates=["exported"], examples=20, prompts=0, jobs=jobs, ggufs=ggufs))  # fmt: skip
        data = report.to_dict()
        return {"candidates": data["candidates"], "gguf": data["gguf"]}

    assert run(2) == run(1)


@pytest.fixture(scope="module")
def llmjp_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LLM-jp's published 98k unigram model (../shared), written as the converter's T5 path."""
    if not LLMJP.is_file():
        pytest.skip("../shared/published-models is absent")
    out = tmp_path_factory.mktemp("llmjp") / "llm-jp-as-t5.gguf"
    build.write_gguf(out, LLMJP.read_bytes(), way="t5")
    return out


THANKS = "ありがとうございました。"  # one 36-byte piece of LLM-jp's vocabulary


def test_a_published_model_as_t5_loses_byte_fallback_and_long_pieces(llmjp_gguf: Path) -> None:
    report = check_gguf(read_gguf(llmjp_gguf), SentencePieceModel.load(LLMJP))
    assert "gguf.byte_fallback" in report.failed
    [caveat] = report.caveats
    assert "23 tokens are longer than 32 bytes" in caveat


@needs_llama
def test_the_binding_drops_a_published_models_long_piece(llmjp_gguf: Path, tmp_path: Path) -> None:
    model = SentencePieceModel.load(LLMJP)
    ids = model.processor.encode(THANKS)
    assert model.processor.id_to_piece(ids[-1]) == THANKS
    assert llamacpp.Vocab(llmjp_gguf).detokenize(ids) == THANKS
    corpus = tmp_path / "thanks.txt"
    corpus.write_text(f"{THANKS}\n本当に{THANKS}\n", "utf-8")
    report = compare(resolve(str(LLMJP)), model, CompareOptions(corpora=[corpus], candidates=["exported"], examples=0, prompts=0, probes=False, ggufs=[llmjp_gguf], jobs=1))  # fmt: skip
    tallies = {t.name: t for t in report.candidates}
    assert tallies["llama-cpp-python"].decode_mismatched == 2
    assert all(
        THANKS not in e.candidate_decoded for e in tallies["llama-cpp-python"].counterexamples
    )


def test_an_spm_gguf_without_byte_tokens_is_refused_not_run(tmp_path: Path) -> None:
    """llama.cpp's SPM tokenizer aborts the whole process on a character outside a vocabulary
    that has no byte tokens: the finding says so, and the candidates are not run (a load
    failure of that path), so tokcheck lives to report it."""
    source = FIXTURES / "tiny-legacy"
    gguf = tmp_path / "tiny-legacy-as-llama.gguf"
    build.write_gguf(gguf, (source / "spiece.model").read_bytes(), way="llama", directory=source)
    model = SentencePieceModel.load(source / "spiece.model")
    report = check_gguf(read_gguf(gguf), model)
    said = {c.name: c.message for c in report.checks if not c.passed}
    assert "aborts the process" in said["gguf.byte_fallback"]
    resolved = resolve(str(source))
    result = compare(
        resolved,
        model,
        CompareOptions(candidates=["exported"], examples=20, prompts=0, ggufs=[gguf]),
    )
    failed = {u.name: u.reason for u in result.load_failures}
    assert set(failed) == {"llama.cpp", "llama-cpp-python", "llama-server"}
    assert all("aborts the process" in r for r in failed.values())
    assert not result.passed


def _hostile(
    path: Path, tokens: list[bytes] | None = None, model: str = "t5", raw: tuple[Any, ...] = ()
) -> Path:
    """A GGUF of tiny-neox's pieces with what a hostile or broken converter might write."""
    import gguf

    proto = SentencePieceModel.load(FIXTURES / "tiny-neox" / "spiece.model").proto
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tokenizer_model(model)
    writer.add_token_list(tokens or [p.piece.encode() for p in proto.pieces])
    writer.add_token_scores([p.score for p in proto.pieces])
    writer.add_token_types([int(p.type) for p in proto.pieces])
    for key, value, kind in raw:
        writer.add_key_value(key, value, kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        ("tokenizer.ggml.eos_token_id", float("inf"), "eos_token_id is not an integer"),
        ("tokenizer.ggml.add_space_prefix", "yes", "add_space_prefix is not a boolean"),
    ],
)
def test_a_key_of_the_wrong_type_is_malformed_metadata(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, value: object, said: str
) -> None:
    import gguf

    kind = gguf.GGUFValueType.FLOAT64 if isinstance(value, float) else gguf.GGUFValueType.STRING
    path = _hostile(tmp_path / "typed.gguf", raw=((key, value, kind),))
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert said in err
    assert err.count("\n") == 1


@needs_llama
def test_a_gguf_llama_cpp_aborts_on_is_a_finding_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """llama.cpp asserts that tokens are unique and aborts its process: the candidates run in
    a child process, so the abort is their load failure (exit 1), named by llama.cpp's own
    assertion, and tokcheck reports it."""
    pieces = [
        p.encode() for p in SentencePieceModel.load(FIXTURES / "tiny-neox" / "spiece.model").pieces
    ]
    path = _hostile(tmp_path / "dup.gguf", tokens=[*pieces[:500], pieces[499], *pieces[501:]])
    args = ["compare", str(FIXTURES / "tiny-neox"), "--gguf", str(path), "--candidate", "exported"]
    assert main([*args, "--examples", "5", "--prompts", "0", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert set(data["load_failures"]) == {"llama.cpp", "llama-cpp-python", "llama-server"}
    [reason] = {u["reason"] for u in data["unavailable"]}
    assert "signal 6" in reason
    assert "GGML_ASSERT" in reason


@needs_llama
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_abort_while_tokenizing_fails_those_candidates_not_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], jobs: str
) -> None:
    """A vocabulary llama.cpp loads and then cannot tokenize with ("none") aborts on the first
    line: the llama.cpp candidates fail, named by the abort and the line, and the run goes on
    to judge the others, the corpus too (on workers with --jobs 2)."""
    path = _hostile(tmp_path / "none.gguf", model="none")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("吾輩は猫である\nthe cat sat\n" * 50, encoding="utf-8")
    args = ["compare", str(FIXTURES / "tiny-neox"), "--gguf", str(path), "--candidate", "exported"]
    args += ["--corpus", str(corpus), "--jobs", jobs, "--json"]
    assert main([*args, "--examples", "5", "--prompts", "0"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [(c["name"], c["verdict"]) for c in data["candidates"]] == [("exported", "passed")]
    assert data["inputs"]["corpus_counts"][0]["judged"] == 100
    crashes = {u["name"]: u["reason"] for u in data["unavailable"] if u["crashed"]}
    assert set(crashes) == set(data["load_failures"]) == set(llamacpp.KINDS)
    for reason in crashes.values():
        assert reason.startswith("crashed: llama.cpp on none.gguf ended while encoding probe[0] (")
        assert "signal 6 (SIGABRT)" in reason
        assert "GGML_ASSERT" in reason


def _oracle(path: Path) -> dict[str, Any]:
    """The tokenizer keys as the gguf package (llama.cpp's own Python reader) reads them."""
    from gguf import GGUFReader

    fields = GGUFReader(path, "r").fields
    out: dict[str, Any] = {}
    for key, field in fields.items():
        if not key.startswith(("tokenizer.", "general.architecture")):
            continue
        if key == "tokenizer.ggml.tokens":
            out[key] = [bytes(field.parts[i]) for i in field.data]
        else:
            out[key] = field.contents()
    return out


@pytest.mark.parametrize("name", sorted(FOUND))
def test_the_reader_reads_what_the_gguf_package_reads(name: str) -> None:
    path = GGUF / f"{name}.gguf"
    vocab, oracle = read_gguf(path), _oracle(path)
    assert list(vocab.tokens) == oracle["tokenizer.ggml.tokens"]
    assert list(vocab.scores or ()) == pytest.approx(oracle["tokenizer.ggml.scores"], abs=0)
    assert list(vocab.types or ()) == oracle["tokenizer.ggml.token_type"]
    assert vocab.model == oracle["tokenizer.ggml.model"]
    assert vocab.architecture == oracle["general.architecture"]
    assert vocab.add_space_prefix == oracle.get("tokenizer.ggml.add_space_prefix")
    assert vocab.ids["bos"] == oracle.get("tokenizer.ggml.bos_token_id")
    assert vocab.ids["unk"] == oracle.get("tokenizer.ggml.unknown_token_id")
    assert vocab.ids["pad"] == oracle.get("tokenizer.ggml.padding_token_id")


def test_a_hostile_length_is_damage_not_a_memory_blow_up(tmp_path: Path) -> None:
    """A count of 2**62 strings where the file has a few bytes left: refused at once."""
    data = bytearray((GGUF / "bpe-32k-faithful.gguf").read_bytes())
    at = data.index(b"tokenizer.ggml.tokens") + len("tokenizer.ggml.tokens") + 8
    data[at : at + 8] = (1 << 62).to_bytes(8, "little")
    path = tmp_path / "huge-count.gguf"
    path.write_bytes(bytes(data))
    with pytest.raises(TokcheckError, match="longer than the file"):
        read_gguf(path)


@needs_llama
def test_llama_server_turns_a_users_special_name_into_the_token() -> None:
    """The faithful GGUF: llama.cpp's tokenize is safe without special parsing, and its
    server's (names parsed) makes `</s>` in user text the end-of-sequence token."""
    report = _compared("bpe-32k", "bpe-32k-faithful", 0)
    tallies = {t.name: t for t in report.candidates}
    assert tallies["llama.cpp"].special_injected == 0
    assert tallies["llama-server"].special_injected > 0
    vocab = llamacpp.Vocab(GGUF / "bpe-32k-faithful.gguf")
    assert vocab.tokenize("</s>", special=True) == [2]
    assert 2 not in vocab.tokenize("</s>")


def test_workers_load_only_what_the_coordinator_loaded(tmp_path: Path) -> None:
    """A cluster worker loads the names its coordinator loaded: a GGUF's candidates that did
    not load there (llama.cpp aborted on it, or is not installed) are not tried again, which
    failed the whole run before ("a compare worker could not load a candidate")."""
    distributed = pytest.importorskip("distributed")
    from tokcheck.parallel.cluster import Dask

    pieces = [
        p.encode() for p in SentencePieceModel.load(FIXTURES / "tiny-neox" / "spiece.model").pieces
    ]
    gguf = _hostile(tmp_path / "dup.gguf", tokens=[*pieces[:500], pieces[499], *pieces[501:]])
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(f"行 {i} の テキスト\n" for i in range(300)), "utf-8")
    resolved = resolve(str(FIXTURES / "tiny-neox"))
    model = SentencePieceModel.load(resolved.model_file)
    loaded, _ = load_candidates(resolved, model, ["exported"], [gguf])
    assert [c.name for c in loaded] == ["exported"]  # nothing added to the names asked for
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        report = compare(resolved, model, CompareOptions(corpora=[corpus], candidates=["exported"], examples=5, prompts=0, ggufs=[gguf]), engine=Dask(cluster.scheduler_address, 1))  # fmt: skip
    assert report.inputs["corpus_counts"][0]["judged"] == 300
    assert not report.passed
    if _has_llama():
        assert {u.name for u in report.load_failures} == {
            "llama.cpp",
            "llama-cpp-python",
            "llama-server",
        }
