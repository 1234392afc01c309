"""The ``tokcheck`` command: exit codes 0/1/2, JSON shape, and one-line errors for bad input.

``main(argv)`` is called in-process for speed; a few cases go through the installed console
script in a subprocess to prove that no traceback ever reaches a user.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hubcache import make_hub_cache

from tokcheck import __version__
from tokcheck.cli import main
from tokcheck.model.profiles import BUILTIN_PROFILES
from tokcheck.provenance import SCHEMA_VERSION

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# One path component longer than the file system allows (ENAMETOOLONG).
TOO_LONG = "a" * (os.pathconf(FIXTURES, "PC_NAME_MAX") + 1)
NEOX = "rinna/japanese-gpt-neox-3.6b"
CHECK_KEYS = {"name", "passed", "expected", "actual", "message", "file", "line"}


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


CLI = Callable[[list[str]], Run]


@pytest.fixture(autouse=True)
def _offline(hub_cache: Path) -> None:
    """Every test here runs offline against an empty cache: no hub id ever reaches the network."""


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> CLI:
    def run(argv: list[str]) -> Run:
        try:
            code = main(argv)
        except SystemExit as e:  # argparse exits itself, exactly as the console script would
            code = e.code if isinstance(e.code, int) else int(e.code is not None)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def _verdict(out: str) -> str:
    """A text report's verdict: its last line, with the lines it wraps onto at the width."""
    lines = out.rstrip().splitlines()
    start = len(lines) - 1
    while start and lines[start].startswith(" "):
        start -= 1
    return " ".join(line.strip() for line in lines[start:])


def _failed(report: dict[str, object]) -> set[str]:
    checks = report["checks"]
    assert isinstance(checks, list)
    return {c["name"] for c in checks if not c["passed"]}


# --- exit codes and JSON -----------------------------------------------------------------------


def test_check_passes_exit_0(cli: CLI) -> None:
    run = cli(["check", str(FIXTURES / "neox-3.6b"), "--profile", NEOX])
    assert run.code == 0
    assert re.fullmatch(
        r"passed \(sentencepiece \S+, transformers \S+\)", run.out.rstrip().splitlines()[-1]
    )
    assert run.err == ""


def test_check_fails_exit_1(cli: CLI) -> None:
    run = cli(["check", str(FIXTURES / "legacy-1b"), "--profile", NEOX])
    assert run.code == 1
    last = _verdict(run.out)
    assert last.startswith("failed: ")
    assert set(last.removeprefix("failed: ").split(" (sentencepiece")[0].split(", ")) == {
        "byte_fallback",
        "byte_pieces",
        "add_dummy_prefix",
        "remove_extra_whitespaces",
    }
    assert "FAIL add_dummy_prefix: " in run.out
    assert run.err == ""


def test_check_json_shape(cli: CLI) -> None:
    run = cli(["check", str(FIXTURES / "legacy-1b"), "--profile", NEOX, "--json"])
    assert run.code == 1
    report = json.loads(run.out)
    assert {"passed", "profile", "checks"} <= set(report)
    assert report["passed"] is False
    assert report["profile"] == NEOX
    assert report["checks"]
    for check in report["checks"]:
        assert set(check) == CHECK_KEYS
        assert isinstance(check["name"], str)
        assert isinstance(check["passed"], bool)
        assert isinstance(check["message"], str)
    assert _failed(report) == {
        "byte_fallback",
        "byte_pieces",
        "add_dummy_prefix",
        "remove_extra_whitespaces",
    }
    (vocab,) = [c for c in report["checks"] if c["name"] == "vocab_size"]
    assert vocab == {**vocab, "passed": True, "expected": 32_000, "actual": 32_000}


def test_check_json_passing(cli: CLI) -> None:
    run = cli(
        [
            "check",
            str(FIXTURES / "bilingual-4b"),
            "--profile",
            "rinna/bilingual-gpt-neox-4b",
            "--json",
        ]
    )
    report = json.loads(run.out)
    assert (run.code, report["passed"], _failed(report)) == (0, True, set())


def test_check_shared_ja_model(cli: CLI, shared_ja_model: Path) -> None:
    run = cli(["check", str(shared_ja_model), "--profile", NEOX, "--json"])
    assert run.code == 1
    assert _failed(json.loads(run.out)) == {
        "vocab_size",
        "byte_fallback",
        "byte_pieces",
        "add_dummy_prefix",
        "remove_extra_whitespaces",
    }


def test_check_infers_the_profile_from_config_json(cli: CLI) -> None:
    run = cli(["check", str(FIXTURES / "legacy-1b"), "--json"])
    report = json.loads(run.out)
    assert (run.code, report["profile"]) == (0, "rinna/japanese-gpt-1b")
    assert report["profile_how"] == "inferred from config.json (model_type gpt2, vocab_size 32000)"


@pytest.mark.parametrize("command", ["check", "gate"])
def test_no_expectation_is_an_error_not_a_pass(cli: CLI, command: str) -> None:
    """tiny-neox's config.json matches no family: without --profile or --no-profile nothing
    says what the tokenizer should be."""
    run = cli(
        [command, str(FIXTURES / "tiny-neox"), "--examples", "5"][: 2 if command == "check" else 4]
    )
    assert (run.code, run.out) == (2, "")
    assert run.err.count("\n") == 1
    assert "--profile NAME|FILE" in run.err
    assert "--no-profile" in run.err


def test_check_without_a_profile_is_a_pass_with_caveats(cli: CLI) -> None:
    run = cli(["check", str(FIXTURES / "tiny-neox"), "--no-profile", "--json"])
    report = json.loads(run.out)
    assert (run.code, report["profile"], report["verdict"]) == (0, None, "passed with caveats")
    assert "profile" in {s["name"] for s in report["skipped"]}
    assert any("no profile" in c for c in report["caveats"])
    text = cli(["check", str(FIXTURES / "tiny-neox"), "--no-profile"]).out
    assert _verdict(text).startswith("passed with caveats: no profile applied")


def test_check_user_toml_profile(cli: CLI, tmp_path: Path) -> None:
    profile = tmp_path / "tiny.toml"
    profile.write_text(
        'name = "tiny"\nvocab_size = 1000\nbyte_fallback = true\n'
        "add_dummy_prefix = false\nremove_extra_whitespaces = false\n",
        encoding="utf-8",
    )
    run = cli(["check", str(FIXTURES / "tiny-neox"), "--profile", str(profile), "--json"])
    report = json.loads(run.out)
    assert (run.code, report["profile"], _failed(report)) == (0, "tiny", set())
    # The same profile rejects the 1,200-piece fixture on size alone.
    run = cli(["check", str(FIXTURES / "tiny-bilingual"), "--profile", str(profile), "--json"])
    assert (run.code, _failed(json.loads(run.out))) == (1, {"vocab_size"})


def test_inspect_json(cli: CLI) -> None:
    run = cli(["inspect", str(FIXTURES / "neox-3.6b"), "--json"])
    assert run.code == 0
    report = json.loads(run.out)
    assert report["model"] == str(FIXTURES / "neox-3.6b")
    assert report["hub_id"] is None
    assert (report["vocab_size"], report["byte_fallback"], report["add_dummy_prefix"]) == (
        32_000,
        True,
        False,
    )
    assert report["whitespace_encodings"] == {"\n": ["<0x0A>"], "\t": ["<0x09>"], "  ": ["▁", "▁"]}
    assert report["tokenizer_config"]["tokenizer_class"] == "T5Tokenizer"
    assert report["config"]["vocab_size"] == 32_000


def test_inspect_table(cli: CLI) -> None:
    run = cli(["inspect", str(FIXTURES / "bilingual-4b")])
    assert run.code == 0
    assert "65536" in run.out
    assert "user_defined_symbols" in run.out
    assert "tokenizer_config.json" in run.out


def test_inspect_a_model_sentencepiece_refuses(cli: CLI) -> None:
    # inspect reports; it does not judge: the refusal is a value, and the exit code is 0.
    run = cli(["inspect", str(FIXTURES / "broken" / "missing-byte-pieces"), "--json"])
    assert run.code == 0
    report = json.loads(run.out)
    assert report["whitespace_encodings"] is None
    assert "256 byte pieces" in report["processor_error"]


def test_profiles_table(cli: CLI) -> None:
    run = cli(["profiles"])
    assert run.code == 0
    rows = [line for line in run.out.splitlines() if line.startswith("rinna/")]
    assert [row.split()[0] for row in rows] == list(BUILTIN_PROFILES)


def test_profiles_json(cli: CLI) -> None:
    run = cli(["profiles", "--json"])
    assert run.code == 0
    data = json.loads(run.out)
    assert data["schema_version"] == SCHEMA_VERSION
    profiles = data["profiles"]
    assert [p["name"] for p in profiles] == list(BUILTIN_PROFILES)
    assert len(profiles) == 3
    assert profiles[0]["members"] == list(BUILTIN_PROFILES[NEOX].members)


def test_version_names_every_library_a_verdict_depends_on(cli: CLI) -> None:
    run = cli(["--version"])
    assert (run.code, run.err) == (0, "")
    said = dict(line.split(" ", 1) for line in run.out.splitlines())
    assert said["tokcheck"] == __version__
    for library in ("sentencepiece", "tokenizers", "transformers", "python"):
        assert said[library] != "not installed", library


@pytest.mark.parametrize(
    "argv",
    [
        ["inspect", str(FIXTURES / "tiny-neox")],
        ["check", str(FIXTURES / "tiny-neox"), "--no-profile"],
        ["profiles"],
        ["roundtrip", str(FIXTURES / "tiny-neox"), "--examples", "5"],
    ],
    ids=["inspect", "check", "profiles", "roundtrip"],
)
def test_every_json_output_carries_schema_and_versions(cli: CLI, argv: list[str]) -> None:
    from tokcheck.provenance import versions

    run = cli([*argv, "--json"])
    data = json.loads(run.out)
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["versions"] == versions()
    assert data["versions"]["transformers"]


def test_every_text_verdict_names_the_sentencepiece_and_transformers_versions(cli: CLI) -> None:
    from tokcheck.provenance import versions

    found = versions()
    releases = f"(sentencepiece {found['sentencepiece']}, transformers {found['transformers']})"
    for argv in (
        ["check", str(FIXTURES / "tiny-neox"), "--no-profile"],
        ["roundtrip", str(FIXTURES / "tiny-neox"), "--examples", "5"],
    ):
        last = cli(argv).out.rstrip().splitlines()[-1]
        assert last.endswith(releases), argv


def test_no_command_prints_help_exit_2(cli: CLI) -> None:
    run = cli([])
    assert (run.code, run.out) == (2, "")
    assert "usage: tokcheck" in run.err


# --- bad input: exit 2 and exactly one line on stderr ---------------------------------------


def _file(name: str, data: bytes) -> Callable[[Path], list[str]]:
    def make(tmp_path: Path) -> list[str]:
        path = tmp_path / name
        path.write_bytes(data)
        return [str(path)]

    return make


def _empty_dir(tmp_path: Path) -> list[str]:
    (tmp_path / "no-model").mkdir()
    (tmp_path / "no-model" / "config.json").write_text("{}", encoding="utf-8")
    return [str(tmp_path / "no-model")]


def _bad_tokenizer_config(tmp_path: Path) -> list[str]:
    directory = tmp_path / "model"
    directory.mkdir()
    shutil.copyfile(FIXTURES / "tiny-neox" / "spiece.model", directory / "spiece.model")
    (directory / "tokenizer_config.json").write_text("{'not': json}", encoding="utf-8")
    return [str(directory)]


def _literal(*args: str) -> Callable[[Path], list[str]]:
    return lambda tmp_path: list(args)


def _cached(*args: str, ref_is_a_directory: bool = False) -> Callable[[Path], list[str]]:
    """``someone/tiny`` in the test's hub cache (see the hub_cache fixture), then ``args``."""

    def make(tmp_path: Path) -> list[str]:
        cache = tmp_path / "hub-cache"
        make_hub_cache(cache, "someone/tiny", FIXTURES / "tiny-neox")
        if ref_is_a_directory:
            ref = cache / "models--someone--tiny" / "refs" / "main"
            ref.unlink()
            ref.mkdir()
        return ["someone/tiny", *args]

    return make


BAD_MODELS: dict[str, Callable[[Path], list[str]]] = {
    "empty-file": _file("empty.model", b""),
    "random-bytes": _file("random.model", random.Random(1).randbytes(2048)),
    "text-file": _file("notes.txt", "hello\nこんにちは\n".encode()),
    "truncated-dir": _literal(str(FIXTURES / "broken" / "truncated")),
    "truncated-file": _literal(str(FIXTURES / "broken" / "truncated" / "spiece.model")),
    "corrupt-dir": _literal(str(FIXTURES / "broken" / "corrupt")),
    "dir-without-model": _empty_dir,
    "bad-tokenizer-config-json": _bad_tokenizer_config,
    "nonexistent-path": _literal("/nonexistent/dir/spiece.model"),
    "empty-reference": _literal(""),
    "hub-id-double-slash": _literal("rinna//x"),
    "hub-id-leading-dash-bang": _literal("--", "-bad/id!"),
    "hub-id-double-dash": _literal("rinna/x--y"),
    "hub-id-dot-git": _literal("rinna/x.git"),
    "hub-id-not-cached": _literal("rinna/japanese-gpt-neox-3.6b-instruction-ppo"),
    "name-too-long": _literal(TOO_LONG),
    "name-too-long-model": _literal(TOO_LONG + ".model"),
    "name-too-long-nested": lambda tmp_path: [str(tmp_path / TOO_LONG / "spiece.model")],
    "unknown-user": _literal("~tokcheck-no-such-user/model"),
    "mistyped-fixture": _literal(str(FIXTURES / "neox-3.6")),
    "revision-empty": _cached("--revision", ""),
    "revision-traversal": _cached("--revision", "../../.."),
    "revision-absolute": _cached("--revision", "/etc"),
    "cache-ref-is-a-directory": _cached(ref_is_a_directory=True),
}


def _assert_one_line_error(run: Run) -> None:
    assert run.code == 2, run
    assert run.out == ""
    assert "Traceback" not in run.err
    assert run.err.endswith("\n")
    lines = run.err.splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("tokcheck")
    assert "error" in lines[0]


@pytest.mark.parametrize("command", ["check", "inspect"])
@pytest.mark.parametrize("make", list(BAD_MODELS.values()), ids=list(BAD_MODELS))
def test_bad_model(
    cli: CLI, tmp_path: Path, command: str, make: Callable[[Path], list[str]]
) -> None:
    _assert_one_line_error(cli([command, *make(tmp_path)]))


def _assert_ordinary(run: Run, *words: str) -> None:
    """One line, exit 2, and not the catch-all that is kept for tokcheck's own bugs."""
    _assert_one_line_error(run)
    assert "please report it" not in run.err
    for word in words:
        assert word in run.err


# Each command's minimal arguments around MODEL (export's OUTDIR is never reached).
COMMAND_ARGV: dict[str, Callable[[str, Path], list[str]]] = {
    "inspect": lambda model, tmp: ["inspect", model],
    "check": lambda model, tmp: ["check", model],
    "compare": lambda model, tmp: ["compare", model, "--examples", "1"],
    "roundtrip": lambda model, tmp: ["roundtrip", model, "--examples", "1"],
    "smoke": lambda model, tmp: ["smoke", model, "--tiny"],
    "export": lambda model, tmp: ["export", model, str(tmp / "out")],
    "gate": lambda model, tmp: ["gate", model, "--examples", "1"],
}


@pytest.mark.parametrize("command", list(COMMAND_ARGV))
@pytest.mark.parametrize(
    ("model", "words"),
    [
        (TOO_LONG, ("file name too long", "give a shorter path")),
        (TOO_LONG + ".model", ("file name too long",)),
        ("~tokcheck-no-such-user/x", ("~tokcheck-no-such-user/x", "no user")),
        (str(FIXTURES / "neox-3.6"), ("no such file or directory", "did you mean")),
    ],
    ids=["too-long", "too-long-model", "unknown-user", "mistyped"],
)
def test_ordinary_bad_model_for_every_command(
    cli: CLI, tmp_path: Path, command: str, model: str, words: tuple[str, ...]
) -> None:
    _assert_ordinary(cli(COMMAND_ARGV[command](model, tmp_path)), *words)


def test_mistyped_fixture_path_is_no_hub_cache_problem(
    cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # fixtures/neox-3.6 is shaped like a hub id; the local fixtures/ directory says it is a path.
    monkeypatch.chdir(FIXTURES.parent)
    run = cli(["inspect", "fixtures/neox-3.6"])
    _assert_ordinary(run, "no such file or directory: fixtures/neox-3.6")
    assert "did you mean fixtures/neox-3.6b?" in run.err
    assert "hub cache" not in run.err
    assert "HF_HUB_OFFLINE" not in run.err


@pytest.mark.parametrize("variable", ["HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"])
def test_unknown_user_in_a_cache_variable(
    cli: CLI, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    for name in ("HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, "~tokcheck-no-such-user/cache")
    run = cli(["check", "someone/tiny"])
    _assert_ordinary(run, f"{variable}=~tokcheck-no-such-user/cache", "no user")


def test_export_outdir_name_too_long(cli: CLI, tmp_path: Path) -> None:
    run = cli(["export", str(FIXTURES / "tiny-neox"), str(tmp_path / TOO_LONG)])
    _assert_ordinary(run, "file name too long")
    assert [p.name for p in tmp_path.iterdir() if p.name != "hub-cache"] == []


def test_profile_name_too_long(cli: CLI) -> None:
    run = cli(["check", str(FIXTURES / "tiny-neox"), "--profile", TOO_LONG + ".toml"])
    _assert_ordinary(run, "profile", "file name too long")


def test_hub_id_not_cached_mentions_offline(cli: CLI) -> None:
    run = cli(["check", "rinna/japanese-gpt-neox-3.6b-instruction-ppo"])
    _assert_one_line_error(run)
    assert "HF_HUB_OFFLINE" in run.err


def _toml(text: str) -> Callable[[Path], list[str]]:
    def make(tmp_path: Path) -> list[str]:
        path = tmp_path / "profile.toml"
        path.write_text(text, encoding="utf-8")
        return [str(path)]

    return make


BAD_PROFILES: dict[str, Callable[[Path], list[str]]] = {
    "toml-syntax-error": _toml("vocab_size = = 3\n"),
    "toml-unknown-key": _toml("vocab_size = 1000\nflavour = 'x'\n"),
    "toml-wrong-type": _toml('vocab_size = "1000"\n'),
    "toml-missing-file": lambda tmp_path: [str(tmp_path / "missing.toml")],
    "unknown-profile-name": _literal("rinna/nope"),
}


@pytest.mark.parametrize("make", list(BAD_PROFILES.values()), ids=list(BAD_PROFILES))
def test_bad_profile(cli: CLI, tmp_path: Path, make: Callable[[Path], list[str]]) -> None:
    run = cli(["check", str(FIXTURES / "tiny-neox"), "--profile", *make(tmp_path)])
    _assert_one_line_error(run)
    assert "profile" in run.err


BAD_USAGE: dict[str, list[str]] = {
    "unknown-subcommand": ["bogus"],
    "check-missing-model": ["check"],
    "inspect-missing-model": ["inspect"],
    "unknown-option": ["check", str(FIXTURES / "tiny-neox"), "--bogus"],
    "profile-missing-value": ["check", str(FIXTURES / "tiny-neox"), "--profile"],
    "profiles-extra-argument": ["profiles", "extra"],
    "roundtrip-zero-examples": ["roundtrip", str(FIXTURES / "tiny-neox"), "--examples", "0"],
    "gate-zero-examples": ["gate", str(FIXTURES / "tiny-neox"), "--examples", "0"],
    "compare-negative-examples": ["compare", str(FIXTURES / "tiny-neox"), "--examples", "-1"],
    "compare-huge-seed": ["compare", str(FIXTURES / "tiny-neox"), "--seed", "9" * 30],
    "export-negative-show": ["export", str(FIXTURES / "tiny-neox"), "out", "--show", "-2"],
    "gate-empty-junit": ["gate", str(FIXTURES / "tiny-neox"), "--junit", ""],
}


@pytest.mark.parametrize("argv", list(BAD_USAGE.values()), ids=list(BAD_USAGE))
def test_bad_usage(cli: CLI, argv: list[str]) -> None:
    run = cli(argv)
    _assert_one_line_error(run)
    assert "--help" in run.err


def test_junit_path_is_checked_before_the_gate_runs(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tokcheck.gate

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the gate ran although its JUnit path is unusable")

    monkeypatch.setattr(tokcheck.gate, "run_gate", never)
    model = str(FIXTURES / "tiny-neox")
    out = tmp_path / "out"
    out.mkdir()
    for target, message in (
        (out, "is a directory"),
        (out / "missing" / "junit.xml", "does not exist"),
        (out / (TOO_LONG + ".xml"), "file name too long"),
        (TOO_LONG, "file name too long"),
        ("", "an empty file name"),
        ("-", "the report goes to stdout without --output"),
    ):
        run = cli(["gate", model, "--junit", str(target)])
        _assert_ordinary(run, message)
    assert list(out.iterdir()) == []  # no temporary file left behind either
    fifo = out / "fifo"
    os.mkfifo(fifo)
    link = out / "link.xml"
    link.symlink_to(tmp_path / "elsewhere.xml")
    for target in (fifo, link):
        run = cli(["gate", model, "--junit", str(target)])
        _assert_one_line_error(run)
        assert "give the path of a regular file" in run.err
    assert sorted(p.name for p in out.iterdir()) == ["fifo", "link.xml"]


def test_an_unanticipated_error_is_one_line_not_a_traceback(
    cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tokcheck.model.inspection

    def broken(*args: object) -> None:
        raise KeyError("surprise\nsecond line")

    monkeypatch.setattr(tokcheck.model.inspection, "inspect_model", broken)
    run = cli(["inspect", str(FIXTURES / "tiny-neox")])
    _assert_one_line_error(run)
    assert "unexpected KeyError" in run.err
    assert "please report it" in run.err
    monkeypatch.setenv("TOKCHECK_DEBUG", "1")
    with pytest.raises(KeyError):
        cli(["inspect", str(FIXTURES / "tiny-neox")])


# --- the real console script ------------------------------------------------------------------


def test_console_script_keeps_hypothesis_out_of_the_working_directory(tmp_path: Path) -> None:
    work, cache = tmp_path / "work", tmp_path / "cache"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_STORAGE_DIRECTORY"}
    done = subprocess.run(
        [_console_script(), "roundtrip", str(FIXTURES / "tiny-neox"), "--examples", "5"],
        capture_output=True,
        text=True,
        env={**env, "XDG_CACHE_HOME": str(cache)},
        cwd=work,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert list(work.iterdir()) == []
    assert (cache / "tokcheck" / "hypothesis").is_dir()


def _console_script() -> str:
    script = shutil.which("tokcheck", path=str(Path(sys.executable).parent)) or shutil.which(
        "tokcheck"
    )
    if script is None:
        pytest.skip("the tokcheck console script is not installed")
    return script


@pytest.mark.parametrize(
    "make",
    [
        BAD_MODELS["random-bytes"],
        BAD_MODELS["truncated-dir"],
        BAD_MODELS["hub-id-not-cached"],
        BAD_MODELS["hub-id-double-dash"],
    ],
    ids=["random-bytes", "truncated-dir", "hub-id-not-cached", "hub-id-double-dash"],
)
def test_console_script_bad_input(
    tmp_path: Path, hub_cache: Path, make: Callable[[Path], list[str]]
) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(hub_cache)}
    done = subprocess.run(
        [_console_script(), "check", *make(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    _assert_one_line_error(Run(done.returncode, done.stdout, done.stderr))


def test_console_script_and_module_pass(tmp_path: Path) -> None:
    model = str(FIXTURES / "neox-3.6b")
    for argv in ([_console_script()], [sys.executable, "-m", "tokcheck"]):
        done = subprocess.run(
            [*argv, "check", model, "--profile", NEOX],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
        assert (done.returncode, done.stderr) == (0, ""), argv
        assert done.stdout.rstrip().splitlines()[-1].startswith("passed (sentencepiece")


@pytest.mark.parametrize("command", ["inspect", "check"])
def test_reader_going_away_is_not_a_traceback(tmp_path: Path, command: str) -> None:
    # `tokcheck inspect MODEL --json | head -1`: the pipe closes before tokcheck writes.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [_console_script(), command, str(FIXTURES / "tiny-neox"), "--json"]
            + (["--no-profile"] if command == "check" else []),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr
    assert "BrokenPipeError" not in done.stderr
    # Neither a failed check (1) nor bad input (2): what a shell reports for SIGPIPE.
    assert done.returncode == 141, done.stderr


@pytest.mark.parametrize(
    "argv", [["inspect", "--json"], ["check", "--no-profile"], ["profiles"], ["--version"]]
)
def test_stdout_on_a_full_device_is_one_line(tmp_path: Path, argv: list[str]) -> None:
    # `tokcheck inspect MODEL --json > /dev/full`: ENOSPC on write or on the flush at exit.
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    model = [] if argv[0] in ("profiles", "--version") else [str(FIXTURES / "tiny-neox")]
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "tokcheck", argv[0], *model, *argv[1:]],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
    run = Run(done.returncode, "", done.stderr)
    _assert_ordinary(run, "stdout", "No space left on device")
    assert "Exception ignored" not in done.stderr


class _FullStdout:
    """A stdout that takes every write and fails on flush, as a buffered one on a full disk."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        raise OSError(28, "No space left on device")

    def fileno(self) -> int:
        raise ValueError("no file descriptor")


def test_stdout_failing_only_on_flush_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", _FullStdout())
    code = main(["inspect", str(FIXTURES / "tiny-neox"), "--json"])
    run = Run(code, "", capsys.readouterr().err)
    _assert_ordinary(run, "cannot write the output to stdout: No space left on device")


# Run as an unprivileged user: drop to nobody after a first run as root has imported what the
# command needs (the interpreter may live where nobody cannot read, under /root say).
_AS_NOBODY = """
import os, sys
from tokcheck.cli import main
warm, target, uid = sys.argv[1:4]
for command in ("inspect", "check"):
    main([command, warm, "--json", "--no-profile"][: 3 if command == "inspect" else 4])
sys.stdout.flush()
if os.geteuid() == 0:
    os.setgroups([])
    os.setgid(int(uid))
    os.setuid(int(uid))
print("---")
sys.stdout.flush()
sys.exit(main([sys.argv[4], target, *(["--no-profile"] if sys.argv[4] == "check" else [])]))
"""


@pytest.mark.parametrize("command", ["inspect", "check"])
@pytest.mark.parametrize("layout", ["dir-not-searchable", "parent-not-searchable"])
def test_model_in_a_directory_this_user_may_not_search(command: str, layout: str) -> None:
    import tempfile

    # Under the system's temp directory, not pytest's (0700, root's only).
    top = Path(tempfile.mkdtemp(prefix="tokcheck-perm-"))
    try:
        top.chmod(0o755)
        parent = top / "parent"
        model = parent / "model"
        shutil.copytree(FIXTURES / "tiny-neox", model)
        for path in (parent, model, *model.iterdir()):
            path.chmod(0o755 if path.is_dir() else 0o644)
        (parent if layout == "parent-not-searchable" else model).chmod(0o644)  # r, no x
        uid = 65534 if os.geteuid() == 0 else os.geteuid()
        warm = str(FIXTURES / "tiny-neox")
        done = subprocess.run(
            [sys.executable, "-c", _AS_NOBODY, warm, str(model), str(uid), command],
            capture_output=True,
            text=True,
            cwd=top,
            timeout=120,
            check=False,
        )
        if done.returncode == 0:
            pytest.skip("the directory can be searched all the same (a capability, say)")
        _assert_ordinary(Run(done.returncode, "", done.stderr), str(model), "permission denied")
        assert done.stdout.split("---\n")[-1] == ""
    finally:
        for path in (top / "parent", top / "parent" / "model"):
            if path.exists():
                path.chmod(0o755)
        shutil.rmtree(top, ignore_errors=True)


# tokcheck without torch: a finder refuses it, and importlib.util.find_spec (which transformers
# asks) does not see it, so transformers prints its "PyTorch was not found" notice on import.
_WITHOUT_TORCH = """
import importlib.util, sys

def hidden(name):
    return name == "torch" or name.startswith("torch.")

class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if hidden(name):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, package=None: (
    None if hidden(name) else find_spec(name, package)
)
sys.meta_path.insert(0, NoTorch())
from tokcheck.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize(
    ("model", "candidates", "stdout", "code"),
    [
        ("tiny-neox", ["exported"], "pipe", 0),
        # transformers' default path diverges on the rinna-flag fixture.
        ("tiny-neox", ["default"], "pipe", 1),
        ("tiny-neox", ["exported", "tokenizer.json"], "pipe", 2),
        # Exit 2 after the report, transformers imported by then: the report cannot be written.
        ("tiny-neox", ["exported"], "/dev/full", 2),
    ],
    ids=["passed", "failed", "usage", "full-stdout"],
)
def test_third_party_notices_never_reach_stderr(
    tmp_path: Path, model: str, candidates: list[str], stdout: str, code: int
) -> None:
    if stdout != "pipe" and not os.path.exists(stdout):
        pytest.skip(f"no {stdout} here")
    argv = ["compare", str(FIXTURES / model), "--examples", "3", "--jobs", "1", "--json"]
    for name in candidates:
        argv += ["--candidate", name]
    # What the user's shell has, not what this test process (quieted by earlier tests) has.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSFORMERS_")}
    with open(os.devnull if stdout == "pipe" else stdout, "w") as sink:
        done = subprocess.run(
            [sys.executable, "-c", _WITHOUT_TORCH, *argv],
            stdout=subprocess.PIPE if stdout == "pipe" else sink,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=300,
            check=False,
        )
    assert done.returncode == code, done.stderr
    if code == 2:
        word = "tokenizer.json" if stdout == "pipe" else "stdout"
        _assert_ordinary(Run(code, done.stdout or "", done.stderr), word)
    else:
        assert done.stderr == ""
        json.loads(done.stdout)


@pytest.mark.parametrize(
    "command",
    [None, "inspect", "check", "profiles", "compare", "roundtrip", "smoke", "export", "gate"],
)
def test_help_has_examples_exit_codes_and_defaults(
    command: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main([*([command] if command else []), "--help"])
    assert done.value.code == 0
    said = capsys.readouterr().out
    assert "examples:\n  tokcheck " in said
    assert "exit codes: 0 passed" in said
    if command in ("compare", "gate"):
        assert "(default: 1000)" in said  # --examples
        assert "(default: text)" in said  # --field
