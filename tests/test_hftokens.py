"""What a Llama-style Hugging Face directory asks for: inspect shows it, check judges it.

The directories are ``fixtures/bpe-32k`` (``legacy`` false) and ``fixtures/bpe-32k-legacy``
(``legacy`` true): 32,000 sentencepiece pieces, ``add_bos_token`` true, and a ``<pad>`` token
that only ``added_tokens.json`` gives an id (32000). Variants are laid out under ``tmp_path``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tokcheck.checks.rules import run_checks
from tokcheck.cli import main
from tokcheck.errors import TokcheckError
from tokcheck.model.hftokens import read_hf_tokens, tokenizer_special_id
from tokcheck.model.inspection import inspect_model
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import resolve

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BPE = FIXTURES / "bpe-32k"


def _inspect(path: Path) -> dict[str, object]:
    resolved = resolve(str(path))
    return inspect_model(resolved, SentencePieceModel.load(resolved.model_file))


def _checks(path: Path) -> dict[str, tuple[bool, object]]:
    resolved = resolve(str(path))
    report = run_checks(resolved, SentencePieceModel.load(resolved.model_file), None)
    out: dict[str, tuple[bool, object]] = {c.name: (c.passed, c.actual) for c in report.checks}
    out.update({s.name: (True, f"skipped: {s.reason}") for s in report.skipped})
    return out


def _variant(tmp_path: Path, added: object, **config: object) -> Path:
    """bpe-32k with another added_tokens.json (None: none at all) and config.json fields."""
    directory = tmp_path / "model"
    shutil.copytree(BPE, directory)
    if added is None:
        (directory / "added_tokens.json").unlink()
    else:
        text = added if isinstance(added, str) else json.dumps(added)
        (directory / "added_tokens.json").write_text(text, encoding="utf-8")
    if config:
        data = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        (directory / "config.json").write_text(json.dumps({**data, **config}), encoding="utf-8")
    return directory


@pytest.mark.parametrize(("fixture", "legacy"), [("bpe-32k", False), ("bpe-32k-legacy", True)])
def test_inspect_reports_what_the_llama_directory_asks_for(fixture: str, legacy: bool) -> None:
    hf = _inspect(FIXTURES / fixture)["hf_tokens"]
    assert isinstance(hf, dict)
    assert (hf["tokenizer_class"], hf["legacy"]) == ("LlamaTokenizer", legacy)
    assert (hf["add_bos_token"], hf["add_eos_token"]) == (True, False)
    both = ["special_tokens_map.json", "tokenizer_config.json"]
    assert hf["special_tokens"] == [
        {"name": "bos_token", "content": "<s>", "id": 1, "source": "sentencepiece", "files": both},
        {"name": "eos_token", "content": "</s>", "id": 2, "source": "sentencepiece", "files": both},
        {
            "name": "unk_token",
            "content": "<unk>",
            "id": 0,
            "source": "sentencepiece",
            "files": both,
        },
        {
            "name": "pad_token",
            "content": "<pad>",
            "id": 32000,
            "source": "added_tokens.json",
            "files": both,
        },
    ]
    assert hf["added_tokens"] == [{"content": "<pad>", "id": 32000, "problem": None}]
    assert hf["problems"] == []


def test_inspect_says_unset_for_what_the_config_leaves_to_the_class(
    capsys: pytest.CaptureFixture[str],
) -> None:
    hf = _inspect(FIXTURES / "tiny-neox")["hf_tokens"]
    assert isinstance(hf, dict)
    assert (hf["legacy"], hf["add_bos_token"], hf["add_eos_token"]) == (None, None, None)
    assert hf["added_tokens"] is None
    assert main(["inspect", str(FIXTURES / "tiny-neox")]) == 0
    rows = {
        line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines() if line
    }
    assert rows["legacy"] == rows["add_bos_token"] == ["unset"]
    # A bare .model file has no Hugging Face settings at all.
    assert _inspect(FIXTURES / "tiny-neox" / "spiece.model")["hf_tokens"] is None


def test_inspect_text_shows_special_and_added_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(FIXTURES / "bpe-32k-legacy")]) == 0
    out = capsys.readouterr().out
    lines = [line.split() for line in out.splitlines()]
    assert ["legacy", "true"] in lines
    assert ["add_bos_token", "true"] in lines
    assert ["add_eos_token", "false"] in lines
    pad = ["pad_token", "<pad>", "32000", "added_tokens.json"]
    assert any(line[:4] == pad for line in lines)
    assert ["<pad>", "32000", "ok"] in lines


def test_inspect_json_holds_the_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(BPE), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["hf_tokens"]["legacy"] is False
    assert report["hf_tokens"]["special_tokens"][3]["id"] == 32000


def test_check_passes_the_llama_directories() -> None:
    for fixture in ("bpe-32k", "bpe-32k-legacy"):
        checks = _checks(FIXTURES / fixture)
        assert all(passed for passed, _ in checks.values()), checks
        assert checks["added_tokens"] == (True, {"added_tokens": {"<pad>": 32000}, "problems": []})
        # 32,000 pieces and <pad> at 32000: config.json's 32,001 rows cover every id.
        assert checks["embedding_rows"] == (True, 32001)


def test_pad_resolves_through_added_tokens() -> None:
    resolved = resolve(str(BPE))
    model = SentencePieceModel.load(resolved.model_file)
    assert tokenizer_special_id(resolved, model, "pad") == 32000
    assert tokenizer_special_id(resolved, model, "bos") == 1
    assert read_hf_tokens(resolved, model).special("pad_token") is not None


def test_without_added_tokens_the_pad_token_is_missing(tmp_path: Path) -> None:
    checks = _checks(_variant(tmp_path, None))
    passed, actual = checks["special_tokens_in_vocab"]
    assert not passed
    assert isinstance(actual, dict)
    assert actual["missing"] == {"pad_token": "<pad>"}
    assert checks["added_tokens"] == (True, "skipped: no added_tokens.json")


# added_tokens.json contents that disagree with the 32,000-piece model, and what is said.
INCONSISTENT = {
    "collides": ({"<pad>": 5}, "'<pad>' -> 5: id 5 is the sentencepiece piece "),
    "piece-elsewhere": (
        {"<pad>": 32000, "<s>": 32001},
        "'<s>' -> 32001: already the sentencepiece piece 1",
    ),
    "gap": (
        {"<pad>": 32001},
        "'<pad>' -> 32001: ids past the 32000 pieces should run on without a gap from 32000",
    ),
    "shared-id": (
        {"<pad>": 32000, "<mask>": 32000},
        "'<pad>' -> 32000: id 32000 is also '<mask>''s",
    ),
}


@pytest.mark.parametrize("name", list(INCONSISTENT), ids=list(INCONSISTENT))
def test_inconsistent_added_tokens_fail_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    added, problem = INCONSISTENT[name]
    directory = _variant(tmp_path, added, vocab_size=32002)
    passed, actual = _checks(directory)["added_tokens"]
    assert not passed
    assert isinstance(actual, dict)
    assert len(actual["problems"]) == 1
    assert actual["problems"][0].startswith(problem)
    assert main(["check", str(directory), "--no-profile"]) == 1
    # The line wraps at the terminal's width: compare the words.
    assert " ".join(f"FAIL added_tokens: {problem}".split()) in " ".join(
        capsys.readouterr().out.split()
    )
    hf = _inspect(directory)["hf_tokens"]
    assert isinstance(hf, dict)
    assert hf["problems"] == actual["problems"]


def test_an_added_token_that_is_its_own_piece_is_fine(tmp_path: Path) -> None:
    checks = _checks(
        _variant(tmp_path, {"<pad>": 32000, "<s>": 1, "<pad2>": 32001}, vocab_size=32002)
    )
    assert checks["added_tokens"][0]


def test_added_ids_need_embedding_rows(tmp_path: Path) -> None:
    checks = _checks(_variant(tmp_path, {"<pad>": 32000}, vocab_size=32000))
    assert checks["embedding_rows"] == (False, 32000)


# Malformed added_tokens.json: one line, naming the file, and exit 2 for every command.
MALFORMED = {
    "not-json": ("{", "added_tokens.json: not valid JSON"),
    "not-an-object": ("[32000]", "added_tokens.json: expected a JSON object, found list"),
    "string-id": (
        '{"<pad>": "32000"}',
        'added_tokens.json: token "<pad>" must map to a non-negative integer id, got "32000" (a string)',
    ),
    "float-id": (
        '{"<pad>": 32000.0}',
        'added_tokens.json: token "<pad>" must map to a non-negative integer id, got 32000.0 (a number)',
    ),
    "bool-id": ('{"<pad>": true}', "got true (a boolean)"),
    "negative-id": ('{"<pad>": -1}', "got -1 (a number)"),
    "nan-id": ('{"<pad>": NaN}', "not valid JSON (NaN is not a JSON number)"),
}


@pytest.mark.parametrize("name", list(MALFORMED), ids=list(MALFORMED))
def test_malformed_added_tokens_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    content, says = MALFORMED[name]
    directory = _variant(tmp_path, content)
    with pytest.raises(TokcheckError) as info:
        resolve(str(directory))
    assert says in str(info.value)
    assert str(info.value).startswith(str(directory / "added_tokens.json"))
    out = str(tmp_path / "out")
    for command in (["inspect"], ["check"], ["compare", "--examples", "0"], ["export", out]):
        assert main([command[0], str(directory), *command[1:]]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert err.startswith("tokcheck: error: ")
        assert says in err
