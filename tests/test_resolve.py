"""Model references: a .model file, a Hugging Face directory, or a hub id from an offline cache."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hubcache import make_hub_cache

from tokcheck.cli import main
from tokcheck.errors import ModelNotFoundError, TokcheckError
from tokcheck.model.resolve import MODEL_FILENAMES, hub_cache_dir, hub_offline, is_hub_id, resolve

PPO = "rinna/japanese-gpt-neox-3.6b-instruction-ppo"


def _hf_dir(tmp_path: Path, source: Path, model_name: str) -> Path:
    directory = tmp_path / "model"
    directory.mkdir()
    shutil.copyfile(source / "spiece.model", directory / model_name)
    for name in ("tokenizer_config.json", "special_tokens_map.json", "config.json"):
        shutil.copyfile(source / name, directory / name)
    return directory


def test_model_file(tiny_neox_dir: Path) -> None:
    path = tiny_neox_dir / "spiece.model"
    r = resolve(str(path))
    assert r.model_file == path
    assert (r.directory, r.hub_id) == (None, None)
    assert (r.tokenizer_config, r.special_tokens_map, r.config) == (None, None, None)
    assert r.tokenizer_json is None


def test_relative_model_file(
    tmp_path: Path, tiny_neox_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copyfile(tiny_neox_dir / "spiece.model", tmp_path / "my.model")
    monkeypatch.chdir(tmp_path)
    assert resolve("my.model").model_file == Path("my.model")


@pytest.mark.parametrize("model_name", MODEL_FILENAMES, ids=MODEL_FILENAMES)
def test_hf_directory(tmp_path: Path, tiny_neox_dir: Path, model_name: str) -> None:
    directory = _hf_dir(tmp_path, tiny_neox_dir, model_name)
    r = resolve(str(directory))
    assert r.model_file == directory / model_name
    assert r.directory == directory
    assert r.hub_id is None
    assert r.tokenizer_config is not None
    assert r.tokenizer_config["tokenizer_class"] == "T5Tokenizer"
    assert r.special_tokens_map == {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "[UNK]",
        "pad_token": "[PAD]",
    }
    assert r.config is not None
    assert r.config["vocab_size"] == 1000


def test_hf_directory_metadata_is_optional(tmp_path: Path, tiny_neox_dir: Path) -> None:
    shutil.copyfile(tiny_neox_dir / "spiece.model", tmp_path / "tokenizer.model")
    r = resolve(str(tmp_path))
    assert r.model_file == tmp_path / "tokenizer.model"
    assert (r.tokenizer_config, r.special_tokens_map, r.config) == (None, None, None)


def test_tokenizer_json_is_reported_when_present(tmp_path: Path, tiny_neox_dir: Path) -> None:
    directory = _hf_dir(tmp_path, tiny_neox_dir, "spiece.model")
    assert resolve(str(directory)).tokenizer_json is None
    (directory / "tokenizer.json").write_text("{}", encoding="utf-8")
    assert resolve(str(directory)).tokenizer_json == directory / "tokenizer.json"


def test_directory_without_model(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelNotFoundError, match="no sentencepiece model"):
        resolve(str(tmp_path))


@pytest.mark.parametrize(
    ("content", "why"),
    [("{not json", "not valid JSON"), ("[1, 2]", "expected a JSON object")],
    ids=["syntax-error", "not-an-object"],
)
def test_bad_metadata_json(tmp_path: Path, tiny_neox_dir: Path, content: str, why: str) -> None:
    directory = _hf_dir(tmp_path, tiny_neox_dir, "spiece.model")
    (directory / "tokenizer_config.json").write_text(content, encoding="utf-8")
    with pytest.raises(TokcheckError, match=why):
        resolve(str(directory))


# The fixtures/broken/ directories whose JSON is malformed, and the one line each gets.
BAD_JSON = {
    "deep-json": "tokenizer_config.json: JSON nested too deeply to read",
    "huge-int-json": (
        "config.json: JSON holds an integer of more than 4300 digits, more than Python reads"
    ),
    "nan-json": "config.json: not valid JSON (NaN is not a JSON number)",
    "wrong-type-special-tokens": (
        "tokenizer_config.json: field additional_special_tokens must be null or a list of "
        'strings or objects with a string "content", got 5 (a number)'
    ),
    "string-max-length": (
        'tokenizer_config.json: field model_max_length must be a number, got "big" (a string)'
    ),
}


@pytest.mark.parametrize("name", list(BAD_JSON), ids=list(BAD_JSON))
def test_bad_json_fixture(broken_dir: Callable[[str], Path], name: str) -> None:
    directory = broken_dir(name)
    with pytest.raises(TokcheckError) as info:
        resolve(str(directory))
    assert str(info.value) == f"{directory}/{BAD_JSON[name]}"


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ('{"model_max_length": Infinity}', r"not valid JSON \(Infinity is not a JSON number\)"),
        ('{"model_max_length": -Infinity}', r"not valid JSON \(-Infinity is not a JSON number\)"),
        ('{"model_max_length": 1e999}', r"not valid JSON \(1e999 is too large for a double\)"),
        ("[" * 5000 + "]" * 5000, "nested too deeply"),
        (b"\xff{}".decode("latin-1"), "not valid JSON"),
    ],
    ids=["infinity", "minus-infinity", "overflow", "deep-array", "not-utf8"],
)
def test_json_python_reads_but_tokcheck_refuses(
    tmp_path: Path, tiny_neox_dir: Path, content: str, why: str
) -> None:
    directory = _hf_dir(tmp_path, tiny_neox_dir, "spiece.model")
    (directory / "tokenizer_config.json").write_text(content, encoding="utf-8")
    with pytest.raises(TokcheckError, match=why):
        resolve(str(directory))


def test_sentinel_max_length_is_accepted(tmp_path: Path, tiny_neox_dir: Path) -> None:
    # transformers' "no limit", int(1e30), as it writes it; and as a float.
    directory = _hf_dir(tmp_path, tiny_neox_dir, "spiece.model")
    for value in ("1000000000000000019884624838656", "1e30"):
        (directory / "tokenizer_config.json").write_text(
            f'{{"model_max_length": {value}, "legacy": null, "bos_token": null}}',
            encoding="utf-8",
        )
        config = resolve(str(directory)).tokenizer_config
        assert config is not None
        assert config["model_max_length"] == int(1e30)


WRONG_TYPES = [
    ("tokenizer_config.json", "bos_token", 1, "bos_token must be a string, null", "1 (a number)"),
    ("tokenizer_config.json", "pad_token", {"id": 0}, "pad_token must be", "an object"),
    ("special_tokens_map.json", "eos_token", {"content": 3}, "eos_token must be", "an object"),
    (
        "tokenizer_config.json",
        "additional_special_tokens",
        ["<a>", 2],
        "null or a list",
        "an array",
    ),
    ("tokenizer_config.json", "model_max_length", True, "must be a number", "true (a boolean)"),
    ("tokenizer_config.json", "tokenizer_class", ["T5"], "a string or null", "an array"),
    ("tokenizer_config.json", "legacy", "false", "true, false or null", '"false" (a string)'),
    ("tokenizer_config.json", "add_bos_token", 1, "true, false or null", "1 (a number)"),
    ("config.json", "vocab_size", "1000", "an integer or null", '"1000" (a string)'),
    ("config.json", "vocab_size", True, "an integer or null", "true (a boolean)"),
    ("config.json", "vocab_size", 1000.0, "an integer or null", "1000.0 (a number)"),
    ("config.json", "bos_token_id", [2], "an integer or null", "an array"),
    ("config.json", "eos_token_id", [3, "x"], "a list of integers", "an array"),
    ("config.json", "pad_token_id", "0", "an integer or null", '"0" (a string)'),
    ("config.json", "model_type", 5, "a string or null", "5 (a number)"),
    (
        "config.json",
        "architectures",
        "GPTNeoXForCausalLM",
        "a list of strings",
        '"GPTNeoXForCausalLM" (a string)',
    ),
    ("config.json", "architectures", [None], "a list of strings", "an array"),
]


@pytest.mark.parametrize(
    ("file", "key", "value", "wanted", "got"),
    WRONG_TYPES,
    ids=[f"{f}:{k}={json.dumps(v)}" for f, k, v, _, _ in WRONG_TYPES],
)
def test_field_of_wrong_type(
    tmp_path: Path, tiny_neox_dir: Path, file: str, key: str, value: object, wanted: str, got: str
) -> None:
    directory = _hf_dir(tmp_path, tiny_neox_dir, "spiece.model")
    data = json.loads((directory / file).read_text(encoding="utf-8"))
    (directory / file).write_text(json.dumps({**data, key: value}), encoding="utf-8")
    with pytest.raises(TokcheckError) as info:
        resolve(str(directory))
    message = str(info.value)
    assert message.startswith(f"{directory / file}: field {key} must be ")
    assert wanted in message
    assert message.endswith(f", got {got}")


RIGHT_TYPES = [
    ("tokenizer_config.json", "bos_token", {"content": "<s>", "lstrip": False}),
    ("tokenizer_config.json", "unk_token", None),
    ("tokenizer_config.json", "additional_special_tokens", ["<a>", {"content": "<b>"}]),
    ("tokenizer_config.json", "additional_special_tokens", None),
    ("config.json", "eos_token_id", [3, 0]),
    ("config.json", "pad_token_id", None),
    ("config.json", "architectures", None),
    # Fields outside the schema are not judged.
    ("config.json", "torch_dtype", 5),
]


@pytest.mark.parametrize(
    ("file", "key", "value"),
    RIGHT_TYPES,
    ids=[f"{f}:{k}={json.dumps(v)}" for f, k, v in RIGHT_TYPES],
)
def test_field_of_right_type(
    tmp_path: Path, tiny_neox_dir: Path, file: str, key: str, value: object
) -> None:
    directory = _hf_dir(tmp_path, tiny_neox_dir, "spiece.model")
    data = json.loads((directory / file).read_text(encoding="utf-8"))
    (directory / file).write_text(json.dumps({**data, key: value}), encoding="utf-8")
    resolve(str(directory))


def test_wrong_type_message_escapes_the_value(tmp_path: Path, tiny_neox_dir: Path) -> None:
    directory = _hf_dir(tmp_path, tiny_neox_dir, "spiece.model")
    (directory / "config.json").write_text('{"model_type": 0.5, "vocab_size": "a\\n\\ud800"}')
    with pytest.raises(TokcheckError) as info:
        resolve(str(directory))
    assert str(info.value).endswith(
        'field vocab_size must be an integer or null, got "a\\n\\ud800" (a string)'
    )


HUB_IDS = ["rinna/japanese-gpt-neox-3.6b", PPO, "google/t5_v1.1-small", "a/b"]
NOT_HUB_IDS = [
    "gpt2",
    "rinna//x",
    "-bad/id!",
    "rinna/x!y",
    "a/b/c",
    "rinna/..",
    "rinna/x--y",
    "rinna/x-",
    "rinna/x.",
    "rinna/x.git",
    "/abs/path",
    "rinna/spiece.model/",
]


@pytest.mark.parametrize("reference", HUB_IDS, ids=HUB_IDS)
def test_is_hub_id(reference: str) -> None:
    assert is_hub_id(reference)


@pytest.mark.parametrize("reference", NOT_HUB_IDS, ids=NOT_HUB_IDS)
def test_is_not_hub_id(reference: str) -> None:
    assert not is_hub_id(reference)


@pytest.mark.parametrize("reference", HUB_IDS + NOT_HUB_IDS, ids=HUB_IDS + NOT_HUB_IDS)
def test_is_hub_id_agrees_with_huggingface_hub(reference: str) -> None:
    # huggingface_hub's own validator is the reference: tokcheck must not call an id it rejects
    # a hub id, or the rejection escapes as a traceback instead of one line and exit 2.
    from huggingface_hub.errors import HFValidationError

    # Exported lazily, so mypy does not see it as public.
    from huggingface_hub.utils import validate_repo_id  # type: ignore[attr-defined]

    try:
        validate_repo_id(reference)
        accepted = True
    except HFValidationError:
        accepted = False
    # The one difference: tokcheck insists on owner/name, so a bare "gpt2" is no hub id here.
    assert accepted is (is_hub_id(reference) or reference == "gpt2")


@pytest.mark.parametrize(
    "reference",
    ["nonexistent.model", "no/such/dir/spiece.model", "./nothing", "foo", "", "  "],
    ids=["missing-file", "missing-nested", "dot-relative", "bare-word", "empty", "blank"],
)
def test_nothing_there(reference: str, hub_cache: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        resolve(reference)


@pytest.mark.parametrize(
    "reference",
    ["rinna//x", "-bad/id!", "rinna/x!y", "rinna/x--y", "rinna/x-", "rinna/x.git"],
    ids=["double-slash", "leading-dash-bang", "bang", "double-dash", "trailing-dash", "dot-git"],
)
def test_malformed_hub_id(reference: str, hub_cache: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        resolve(reference)


def test_hub_cache_layout_is_accepted_by_huggingface_hub(hub_cache: Path, neox_dir: Path) -> None:
    from huggingface_hub import hf_hub_download, scan_cache_dir, snapshot_download

    snapshot = make_hub_cache(hub_cache, PPO, neox_dir)
    found = snapshot_download(PPO, cache_dir=hub_cache, local_files_only=True)
    assert Path(found) == snapshot
    model = hf_hub_download(PPO, "spiece.model", cache_dir=hub_cache, local_files_only=True)
    assert Path(model).read_bytes() == (neox_dir / "spiece.model").read_bytes()
    assert Path(model).is_symlink()

    info = scan_cache_dir(hub_cache)
    assert info.warnings == []
    (repo,) = info.repos
    assert repo.repo_id == PPO
    (revision,) = repo.revisions
    assert revision.refs == frozenset({"main"})
    assert revision.commit_hash == snapshot.name
    assert {f.file_name for f in revision.files} == {p.name for p in neox_dir.iterdir()}


def test_hub_id_from_offline_cache(hub_cache: Path, neox_dir: Path) -> None:
    snapshot = make_hub_cache(hub_cache, PPO, neox_dir)
    r = resolve(PPO)
    assert r.hub_id == PPO
    assert r.directory == snapshot
    assert r.model_file == snapshot / "spiece.model"
    assert r.model_file.read_bytes() == (neox_dir / "spiece.model").read_bytes()
    assert r.config is not None
    assert r.config["vocab_size"] == 32_000


@pytest.mark.parametrize(
    ("hub_id", "fixture", "profile"),
    [
        (PPO, "neox-3.6b", "rinna/japanese-gpt-neox-3.6b"),
        (
            "rinna/bilingual-gpt-neox-4b-instruction-ppo",
            "bilingual-4b",
            "rinna/bilingual-gpt-neox-4b",
        ),
        ("rinna/japanese-gpt-1b", "legacy-1b", "rinna/japanese-gpt-1b"),
    ],
    ids=["neox-ppo", "bilingual-ppo", "legacy-1b"],
)
def test_check_hub_id_selects_its_profile_and_passes(
    hub_cache: Path,
    fixtures_dir: Path,
    capsys: pytest.CaptureFixture[str],
    hub_id: str,
    fixture: str,
    profile: str,
) -> None:
    make_hub_cache(hub_cache, hub_id, fixtures_dir / fixture)
    code = main(["check", hub_id, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["profile"] == profile
    assert [c["name"] for c in report["checks"] if not c["passed"]] == []
    assert report["passed"] is True
    assert code == 0


def test_check_hub_id_with_the_wrong_files_fails_its_own_profile(
    hub_cache: Path, legacy_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_hub_cache(hub_cache, PPO, legacy_dir)
    assert main(["check", PPO, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["profile"] == "rinna/japanese-gpt-neox-3.6b"
    failed = {c["name"] for c in report["checks"] if not c["passed"]}
    assert failed == {
        "byte_fallback",
        "byte_pieces",
        "add_dummy_prefix",
        "remove_extra_whitespaces",
    }


def test_check_hub_id_outside_every_family_runs_generic_checks(
    hub_cache: Path, tiny_neox_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_hub_cache(hub_cache, "someone/tiny", tiny_neox_dir)
    assert main(["check", "someone/tiny", "--json"]) == 2  # nothing says what it should be
    capsys.readouterr()
    assert main(["check", "someone/tiny", "--no-profile", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["profile"] is None
    assert report["verdict"] == "passed with caveats"
    assert "profile" in {s["name"] for s in report["skipped"]}


def test_hf_home_is_honoured(
    tmp_path: Path, offline_hub: pytest.MonkeyPatch, neox_dir: Path
) -> None:
    home = tmp_path / "hf-home"
    offline_hub.setenv("HF_HOME", str(home))
    snapshot = make_hub_cache(home / "hub", PPO, neox_dir)
    assert hub_cache_dir() == home / "hub"
    assert resolve(PPO).directory == snapshot


@pytest.mark.parametrize(
    ("value", "offline"),
    [("1", True), ("true", True), ("ON", True), (" yes ", True), ("0", False), ("", False)],
    ids=["1", "true", "ON", "yes-padded", "0", "empty"],
)
def test_hub_offline_values(offline_hub: pytest.MonkeyPatch, value: str, offline: bool) -> None:
    offline_hub.setenv("HF_HUB_OFFLINE", value)
    assert hub_offline() is offline


def test_hub_cache_overrides_hf_home(tmp_path: Path, offline_hub: pytest.MonkeyPatch) -> None:
    offline_hub.setenv("HF_HOME", str(tmp_path / "home"))
    offline_hub.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    assert hub_cache_dir() == tmp_path / "cache"


def test_xdg_cache_home_is_the_fallback(tmp_path: Path, offline_hub: pytest.MonkeyPatch) -> None:
    offline_hub.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub_cache_dir() == tmp_path / "xdg" / "huggingface" / "hub"


def test_revision_by_name_and_by_commit(
    hub_cache: Path, neox_dir: Path, tiny_neox_dir: Path
) -> None:
    main_snapshot = make_hub_cache(hub_cache, PPO, neox_dir)
    v1 = make_hub_cache(hub_cache, PPO, tiny_neox_dir, revision="v1")
    assert resolve(PPO).directory == main_snapshot
    assert resolve(PPO, revision="v1").directory == v1
    assert resolve(PPO, revision=v1.name).directory == v1


def test_offline_and_not_cached(hub_cache: Path, neox_dir: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="HF_HUB_OFFLINE") as e:
        resolve(PPO)
    assert "\n" not in str(e.value)
    make_hub_cache(hub_cache, PPO, neox_dir)
    with pytest.raises(ModelNotFoundError, match="HF_HUB_OFFLINE"):
        resolve(PPO, revision="no-such-branch")


def test_offline_and_not_cached_cli(hub_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", PPO]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert PPO in lines[0]
    assert "HF_HUB_OFFLINE" in lines[0]


def test_cached_snapshot_without_model(hub_cache: Path, tmp_path: Path) -> None:
    source = tmp_path / "only-config"
    source.mkdir()
    (source / "config.json").write_text('{"vocab_size": 10}', encoding="utf-8")
    make_hub_cache(hub_cache, "someone/no-tokenizer", source)
    with pytest.raises(ModelNotFoundError, match="no sentencepiece model"):
        resolve("someone/no-tokenizer")


def test_local_directory_wins_over_hub_id(
    tmp_path: Path, hub_cache: Path, tiny_neox_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = tmp_path / "work" / "rinna" / "japanese-gpt-neox-3.6b"
    local.mkdir(parents=True)
    shutil.copyfile(tiny_neox_dir / "spiece.model", local / "spiece.model")
    monkeypatch.chdir(tmp_path / "work")
    r = resolve("rinna/japanese-gpt-neox-3.6b")
    assert r.hub_id is None
    assert r.directory == Path("rinna/japanese-gpt-neox-3.6b")


# --- ordinary bad input: one message naming the input and what to do ---------------------------


def _no_such_user() -> str:
    import pwd

    name = "tokcheck-no-such-user"
    try:
        pwd.getpwnam(name)
    except KeyError:
        return name
    pytest.skip(f"a user {name!r} exists here")


def _too_long(directory: Path) -> str:
    """One path component longer than the file system under ``directory`` allows."""
    return "a" * (os.pathconf(directory, "PC_NAME_MAX") + 1)


@pytest.mark.parametrize("where", ["bare", "bare-model", "absolute", "in-owner-dir"])
def test_name_longer_than_the_file_system_allows(
    tmp_path: Path, hub_cache: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    long = _too_long(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "owner").mkdir()
    reference = {
        "bare": long,
        "bare-model": long + ".model",
        "absolute": str(tmp_path / long),
        "in-owner-dir": f"owner/{long}",
    }[where]
    with pytest.raises(ModelNotFoundError, match="file name too long") as e:
        resolve(reference)
    assert len(str(e.value)) < 300  # the name is shown shortened


def test_unknown_user_in_model(hub_cache: Path) -> None:
    user = _no_such_user()
    with pytest.raises(ModelNotFoundError, match=f"there is no user '{user}'") as e:
        resolve(f"~{user}/x")
    assert str(e.value).startswith(f"~{user}/x: ")


@pytest.mark.parametrize("variable", ["HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"])
def test_unknown_user_in_cache_variables(offline_hub: pytest.MonkeyPatch, variable: str) -> None:
    user = _no_such_user()
    offline_hub.setenv(variable, f"~{user}/cache")
    with pytest.raises(TokcheckError, match=f"{variable}=~{user}/cache: .*no user"):
        hub_cache_dir()
    with pytest.raises(TokcheckError, match=variable):
        resolve(PPO)


@pytest.mark.parametrize(
    "revision",
    ["", " ", "../../..", "..", ".", "/etc", "main/../main", "main/", "a b", "x:y", "v1.lock"],
)
def test_revision_that_names_no_branch_tag_or_commit(
    hub_cache: Path, tiny_neox_dir: Path, revision: str
) -> None:
    make_hub_cache(hub_cache, "someone/tiny", tiny_neox_dir)
    with pytest.raises(ModelNotFoundError, match=r"--revision .*give a branch, a tag or a commit"):
        resolve("someone/tiny", revision=revision)


@pytest.mark.parametrize("revision", ["main", "v1.0", "refs/pr/1", "feature/x-y_z", "a" * 40])
def test_revision_names_that_are_fine(revision: str) -> None:
    from tokcheck.model.resolve import check_revision

    check_revision(revision)


def test_cache_ref_that_is_a_directory(hub_cache: Path, tiny_neox_dir: Path) -> None:
    make_hub_cache(hub_cache, "someone/tiny", tiny_neox_dir)
    ref = hub_cache / "models--someone--tiny" / "refs" / "main"
    ref.unlink()
    ref.mkdir()
    with pytest.raises(ModelNotFoundError, match="cannot read its entry in the hub cache") as e:
        resolve("someone/tiny")
    assert str(ref) in str(e.value)


def _typo_layout(tmp_path: Path, tiny_neox_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "fixtures" / "neox-3.6b"
    model.mkdir(parents=True)
    shutil.copyfile(tiny_neox_dir / "spiece.model", model / "spiece.model")
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    ("reference", "suggestion"),
    [
        ("fixtures/neox-3.6", "fixtures/neox-3.6b"),
        ("fixtures/neox-3.6/", "fixtures/neox-3.6b"),
        ("./fixtures/neox-3.6", "./fixtures/neox-3.6b"),
        ("fixtures/neox-3.6b/spiece.modle", "fixtures/neox-3.6b/spiece.model"),
        ("fixture", "fixtures"),
    ],
)
def test_mistyped_local_path_suggests_the_close_match(
    tmp_path: Path,
    hub_cache: Path,
    tiny_neox_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    reference: str,
    suggestion: str,
) -> None:
    _typo_layout(tmp_path, tiny_neox_dir, monkeypatch)
    with pytest.raises(ModelNotFoundError) as e:
        resolve(reference)
    message = str(e.value)
    if "/" in reference:
        assert message.startswith(f"no such file or directory: {reference}")
    assert f"did you mean {suggestion}?" in message
    assert "hub cache" not in message


@pytest.mark.parametrize(
    "reference",
    ["fixtures/zzz", "./nothing", "nothing.model", "a/b/c", "/nonexistent/dir", "~/tokcheck-no"],
)
def test_missing_local_path_without_a_close_match(
    tmp_path: Path,
    hub_cache: Path,
    tiny_neox_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    reference: str,
) -> None:
    _typo_layout(tmp_path, tiny_neox_dir, monkeypatch)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(ModelNotFoundError) as e:
        resolve(reference)
    assert str(e.value) == f"no such file or directory: {reference}" or (
        # fixtures/zzz is shaped like a hub id: the message says why it is read as a path.
        str(e.value).startswith(f"no such file or directory: {reference} (fixtures/ is a dir")
    )


def test_hub_id_still_resolves_when_its_owner_is_no_local_directory(
    tmp_path: Path,
    hub_cache: Path,
    tiny_neox_dir: Path,
    neox_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _typo_layout(tmp_path, tiny_neox_dir, monkeypatch)
    snapshot = make_hub_cache(hub_cache, PPO, neox_dir)
    assert resolve(PPO).directory == snapshot
    make_hub_cache(hub_cache, "fixtures/neox-3.6", tiny_neox_dir)
    with pytest.raises(ModelNotFoundError, match="read as a path, not a hub id"):
        resolve("fixtures/neox-3.6")


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda p: p.mkdir(), "a directory, where a JSON file is expected"),
        (lambda p: p.symlink_to(p.name), "cannot read: Too many levels of symbolic links"),
        (lambda p: p.symlink_to("nowhere.json"), "a link to nothing (nowhere.json)"),
    ],
    ids=["directory", "loop", "dangling"],
)
def test_a_metadata_file_that_is_no_file_is_an_error(
    tmp_path: Path, make: Callable[[Path], None], said: str
) -> None:
    """A tokenizer_config.json the directory holds but that cannot be read is exit 2, as one
    that is no JSON is, not silently a directory without one."""
    directory = tmp_path / "model"
    shutil.copytree(Path(__file__).resolve().parents[1] / "fixtures" / "neox-3.6b", directory)
    config = directory / "tokenizer_config.json"
    config.unlink()
    make(config)
    with pytest.raises(TokcheckError, match=re.escape(said)):
        resolve(str(directory))
