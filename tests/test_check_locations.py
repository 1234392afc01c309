"""Where a check's finding lives: each CheckResult names its file (the model file, a Hugging Face
JSON file, a GGUF) and, in a JSON file, the line of the key it is about; --format github puts
them in the annotation (file relative to the workspace), JUnit in the testcase, --json in each
check's dict. Each expected line is found here from the text the test wrote, independently of
tokcheck's scanner."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tokcheck.checks.gguf import check_gguf
from tokcheck.cli import main
from tokcheck.model.gguf_vocab import read_gguf
from tokcheck.model.locate import Locator, key_lines
from tokcheck.model.proto import SentencePieceModel
from tokcheck.report.cases import gguf_cases

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHARED = Path(__file__).resolve().parents[2] / "shared"
LLMJP = SHARED / "published-models" / "llm-jp-tokenizer-100k.ver3.1.model"
PREFIX = "::error file="


class Run(NamedTuple):
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def _workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The workspace is tmp_path: the current directory, with no GITHUB_WORKSPACE."""
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    code = main(list(argv))
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def _copy(fixture: str, tmp_path: Path) -> Path:
    """The fixture copied to tmp_path/models/NAME, so annotations name models/NAME/FILE."""
    directory = tmp_path / "models" / fixture
    shutil.copytree(FIXTURES / fixture, directory)
    return directory


def _write(path: Path, data: dict[str, Any], *, indent: int | None = 2) -> str:
    text = json.dumps(data, indent=indent, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")
    return text


def _line_of(text: str, written: str) -> int:
    """The 1-based line of the one line of ``text`` that starts (after indentation) with
    ``written``, found by reading the text as a person would."""
    found = [i for i, line in enumerate(text.splitlines(), 1) if line.lstrip().startswith(written)]
    assert len(found) == 1, (written, found)
    return found[0]


def _annotations(out: str) -> dict[str, str]:
    """The check annotations of ``out`` by check name: what follows ``::error ``."""
    found = {}
    for line in out.splitlines():
        if line.startswith("::error ") and "title=tokcheck check%3A " in line:
            name = line.split("title=tokcheck check%3A ", 1)[1].split("::", 1)[0]
            found[name] = line
    return found


# -- the scanner ------------------------------------------------------------------------------


def test_key_lines_take_the_top_level_key_and_the_last_duplicate() -> None:
    text = (
        '{\n  "nested": {"bos_token": "<a>"},\n'  # line 2: not the top-level key
        '  "bos_token": "<s>",\n'  # line 3
        '  "tricky": "a \\" {[,: string",\n'
        '  "list": [\n    "<x>",\n    {"content": "<y>"}, 3\n  ],\n'
        '  "\\u0065os_token": "</s>",\n'  # line 9: the key as written, escaped
        '  "bos_token": "<t>"\n}\n'  # line 10: json keeps this one
    )
    assert json.loads(text)["bos_token"] == "<t>"
    lines = key_lines(text)
    assert lines[("bos_token",)] == 10
    assert lines[("nested", "bos_token")] == 2
    assert lines[("list", 0)] == 6
    assert lines[("list", 1)] == 7
    assert lines[("list", 2)] == 7
    assert lines[("eos_token",)] == 9
    assert ("list", 1, "content") not in lines  # deeper than two: never recorded
    assert key_lines(text.replace("\n", "\r\n"))[("bos_token",)] == 10
    assert key_lines(text.replace("\n", "\r"))[("bos_token",)] == 10


def test_locator_answers_for_files(tmp_path: Path) -> None:
    locate = Locator()
    minified, broken, binary = tmp_path / "min.json", tmp_path / "bad.json", tmp_path / "b.json"
    _write(minified, {"a": 1, "bos_token": "<s>"}, indent=None)
    broken.write_text('{\n  "bos_token": "<s>",\n', encoding="utf-8")
    binary.write_bytes(b'{"a": "\xff"}')
    assert locate.line(minified, "bos_token") == 1
    assert locate.line(minified, "absent") is None
    assert locate.line(broken, "bos_token") == 1  # not JSON: the file's first line
    assert locate.line(binary, "a") == 1
    assert locate.line(tmp_path / "missing.json", "a") is None


# -- check --format github, junit, json -------------------------------------------------------


def test_broken_special_token_is_annotated_on_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = _copy("neox-3.6b", tmp_path)
    config = json.loads((directory / "tokenizer_config.json").read_text("utf-8"))
    # A nested key of the same name comes first: the annotation must not point at it.
    config = {"tokcheck_note": {"bos_token": "<s>"}, **config, "bos_token": "<nope>"}
    text = _write(directory / "tokenizer_config.json", config)
    line = _line_of(text, '"bos_token": "<nope>"')
    assert line > 3

    run = _run(capsys, "check", "models/neox-3.6b", "--format", "github")
    assert (run.code, run.err) == (1, "")
    annotation = _annotations(run.out)["special_tokens_in_vocab"]
    assert annotation.startswith(
        f"{PREFIX}models/neox-3.6b/tokenizer_config.json,line={line},"
        "title=tokcheck check%3A special_tokens_in_vocab::bos_token='<nope>' not in the vocab"
    )
    assert run.out.splitlines()[-1].startswith("failed: special_tokens_in_vocab")

    # The same from anywhere: relative to GITHUB_WORKSPACE, given an absolute MODEL.
    run = _run(capsys, "check", str(directory), "--format", "github")
    assert f"{PREFIX}models/neox-3.6b/tokenizer_config.json,line={line}," in run.out

    data = json.loads(_run(capsys, "check", "models/neox-3.6b", "--json").out)
    checks = {c["name"]: c for c in data["checks"]}
    failed = checks["special_tokens_in_vocab"]
    assert failed["file"] == "models/neox-3.6b/tokenizer_config.json"
    assert failed["line"] == line
    # Additive: the keys a check had before, then where it lives.
    assert list(failed) == ["name", "passed", "expected", "actual", "message", "file", "line"]
    assert checks["vocab_size"]["file"] == "models/neox-3.6b/spiece.model"
    assert checks["vocab_size"]["line"] is None
    config_json = (directory / "config.json").read_text("utf-8")
    assert checks["config_bos_id"]["file"] == "models/neox-3.6b/config.json"
    assert checks["config_bos_id"]["line"] == _line_of(config_json, '"bos_token_id"')
    assert checks["embedding_rows"]["line"] == _line_of(config_json, '"vocab_size"')
    assert all("file" not in s for s in data["skipped"])

    junit = _run(capsys, "check", str(directory), "--format", "junit").out
    cases = {c.get("name"): c for c in ET.fromstring(junit.encode()).iter("testcase")}
    case = cases["special_tokens_in_vocab[models/neox-3.6b]"]
    assert case.get("file") == "models/neox-3.6b/tokenizer_config.json"
    assert case.get("line") == str(line)
    assert case.find("failure") is not None
    assert cases["vocab_size[models/neox-3.6b]"].get("file") == "models/neox-3.6b/spiece.model"
    assert cases["vocab_size[models/neox-3.6b]"].get("line") is None


def test_github_workspace_decides_the_relative_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = _copy("neox-3.6b", tmp_path)
    text = _write(directory / "tokenizer_config.json", {"unk_token": "<nope>"})
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path / "models"))
    run = _run(capsys, "check", str(directory), "--format", "github")
    assert run.code == 1
    line = _line_of(text, '"unk_token"')
    assert f"{PREFIX}neox-3.6b/tokenizer_config.json,line={line}," in run.out
    # A file outside the workspace is named as given (annotations), never in JUnit.
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path / "elsewhere"))
    run = _run(capsys, "check", str(directory), "--format", "github")
    assert f"{PREFIX}{directory / 'tokenizer_config.json'},line={line}," in run.out
    junit = _run(capsys, "check", str(directory), "--format", "junit").out
    assert all(c.get("file") is None for c in ET.fromstring(junit.encode()).iter("testcase"))


def test_minified_json_is_line_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = _copy("neox-3.6b", tmp_path)
    config = json.loads((directory / "tokenizer_config.json").read_text("utf-8"))
    _write(directory / "tokenizer_config.json", {**config, "eos_token": "<nope>"}, indent=None)
    run = _run(capsys, "check", "models/neox-3.6b", "--format", "github")
    annotation = _annotations(run.out)["special_tokens_in_vocab"]
    assert annotation.startswith(f"{PREFIX}models/neox-3.6b/tokenizer_config.json,line=1,")


def test_a_key_absent_from_one_file_points_at_the_file_that_has_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = _copy("neox-3.6b", tmp_path)
    config = json.loads((directory / "tokenizer_config.json").read_text("utf-8"))
    del config["bos_token"]
    _write(directory / "tokenizer_config.json", config)
    tokens = {"eos_token": "</s>", "unk_token": "[UNK]", "bos_token": "<gone>"}
    text = _write(directory / "special_tokens_map.json", tokens)
    run = _run(capsys, "check", "models/neox-3.6b", "--format", "github")
    line = _line_of(text, '"bos_token"')
    assert line == 4
    annotation = _annotations(run.out)["special_tokens_in_vocab"]
    assert annotation.startswith(f"{PREFIX}models/neox-3.6b/special_tokens_map.json,line=4,")

    # No config.json: its checks are skipped and name no file; none of its lines are claimed.
    (directory / "config.json").unlink()
    data = json.loads(_run(capsys, "check", "models/neox-3.6b", "--no-profile", "--json").out)
    assert not any(str(c["file"]).endswith("config.json") for c in data["checks"] if c["file"])
    assert {"config_bos_id", "embedding_rows"} <= {s["name"] for s in data["skipped"]}


def test_model_file_findings_name_the_model_file_without_a_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = _copy("neox-3.6b", tmp_path)
    profile = "rinna/bilingual-gpt-neox-4b"  # 65,536 pieces, not this model's 32,000
    run = _run(capsys, "check", "models/neox-3.6b", "--profile", profile, "--format", "github")
    assert run.code == 1
    annotation = _annotations(run.out)["vocab_size"]
    assert annotation.startswith(
        f"{PREFIX}models/neox-3.6b/spiece.model,title=tokcheck check%3A vocab_size::"
    )
    assert directory.is_dir()


def test_added_token_entry_and_config_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = _copy("bpe-32k", tmp_path)
    added = _write(directory / "added_tokens.json", {"<pad>": 32000, "<gap>": 32005})
    config = json.loads((directory / "config.json").read_text("utf-8"))
    config_text = _write(directory / "config.json", {**config, "eos_token_id": 7})
    run = _run(capsys, "check", "models/bpe-32k", "--no-profile", "--format", "github")
    assert run.code == 1
    found = _annotations(run.out)
    gap = _line_of(added, '"<gap>"')
    assert gap == 3
    assert found["added_tokens"].startswith(f"{PREFIX}models/bpe-32k/added_tokens.json,line={gap},")
    eos = _line_of(config_text, '"eos_token_id"')
    assert found["config_eos_id"].startswith(f"{PREFIX}models/bpe-32k/config.json,line={eos},")


def test_gate_annotates_the_failed_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = _copy("tiny-neox", tmp_path)
    config = json.loads((directory / "tokenizer_config.json").read_text("utf-8"))
    text = _write(directory / "tokenizer_config.json", {**config, "eos_token": "<nope>"})
    argv = ["gate", "models/tiny-neox", "--no-profile", "--examples", "5", "--jobs", "1"]
    run = _run(capsys, *argv, "--format", "github")
    assert run.code == 1, run.err
    line = _line_of(text, '"eos_token"')
    assert f"{PREFIX}models/tiny-neox/tokenizer_config.json,line={line}," in run.out


def test_gguf_findings_name_the_gguf(tmp_path: Path) -> None:
    pytest.importorskip("gguf")
    path = FIXTURES / "gguf" / "neox-3.6b-as-llama.gguf"
    model = SentencePieceModel.load(FIXTURES / "neox-3.6b" / "spiece.model")
    report = check_gguf(read_gguf(path), model)
    assert {(c.file, c.line) for c in report.checks} == {(str(path), None)}
    assert {c.file for c in gguf_cases([report])} == {str(path)}
    assert report.to_dict()["checks"][0]["file"] == str(path)


# -- a model nobody here trained --------------------------------------------------------------


@pytest.fixture
def llmjp_dir(tmp_path: Path) -> Path:
    """LLM-jp's published tokenizer with Hugging Face files written here."""
    if not LLMJP.is_file():
        pytest.skip(f"{LLMJP} is absent (real third-party models for tests live in ../shared)")
    directory = tmp_path / "models" / "llm-jp"
    directory.mkdir(parents=True)
    shutil.copyfile(LLMJP, directory / "tokenizer.model")
    return directory


def test_published_model_wrong_settings_are_annotated(
    llmjp_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # LLM-jp's pad piece is "<PAD>" (id 4); "<pad>" is not in its vocabulary. Its extra
    # specials are pieces, except the one at index 2.
    config = {
        "tokenizer_class": "LlamaTokenizer",
        "add_bos_token": True,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "additional_special_tokens": ["<MASK>", "<CLS>", "<no-such-piece>", "<EOD>"],
    }
    text = _write(llmjp_dir / "tokenizer_config.json", config)
    model = "models/llm-jp"
    data = json.loads(_run(capsys, "check", model, "--no-profile", "--json").out)
    found = {c["name"]: c for c in data["checks"]}["special_tokens_in_vocab"]
    assert set(found["actual"]["missing"]) == {"pad_token", "additional_special_tokens[2]"}
    # The first token missing in the file's order: pad_token, on its own line.
    run = _run(capsys, "check", model, "--no-profile", "--format", "github")
    assert run.code == 1, run.err
    line = _line_of(text, '"pad_token"')
    assert _annotations(run.out)["special_tokens_in_vocab"].startswith(
        f"{PREFIX}{model}/tokenizer_config.json,line={line},"
    )

    # The pad fixed, the list's wrong element is the line; a bos id config.json disagrees on.
    text = _write(llmjp_dir / "tokenizer_config.json", {**config, "pad_token": "<PAD>"})
    config_text = _write(llmjp_dir / "config.json", {"vocab_size": 98452, "bos_token_id": 2})
    run = _run(capsys, "check", model, "--no-profile", "--format", "github")
    assert run.code == 1, run.err
    found = _annotations(run.out)
    element = _line_of(text, '"<no-such-piece>"')
    assert found["special_tokens_in_vocab"].startswith(
        f"{PREFIX}{model}/tokenizer_config.json,line={element},"
    )
    bos = _line_of(config_text, '"bos_token_id"')
    assert found["config_bos_id"].startswith(f"{PREFIX}{model}/config.json,line={bos},")
    assert (
        "config.json says bos_token_id 2 but the tokenizer's bos id is 1" in found["config_bos_id"]
    )
