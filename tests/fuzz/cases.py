"""Cases: what one fuzz case is, and how (seed, index) picks and builds it.

``make_case`` chooses a family (byte-level or structure-aware model mutation, a mutated Hugging
Face directory, or a command-line usage case), the command, ``--json`` and the layout, and
delegates the mutation itself to ``proto_mutations`` and ``hf_mutations``. The usage cases live
here because they are fixed scenarios, not mutations. Nothing here runs a case.
"""

from __future__ import annotations

import random

from .base import BASE_MODELS, Case, Node, base_metadata, base_model
from .hf_mutations import mutate_hf_dir
from .process_cases import PROCESS_FAMILIES, make_process_case
from .proto_mutations import mutate_bytes, mutate_proto

# The commands every model case runs, in the order cases cycle through them.
MODEL_COMMANDS = ("inspect", "check", "roundtrip", "compare", "export")
COMMANDS = (*MODEL_COMMANDS, "gate")


# Every family and its weight: how often a case is drawn from it. The process families cost a
# real process each (seconds, a fake scheduler's up to its 10 s bound), so they are drawn less.
FAMILY_WEIGHTS = {
    "proto-bytes": 30,
    "proto-struct": 40,
    "hf-dir": 30,
    "usage": 10,
    "signal": 5,
    "mount": 2,
    "scheduler": 1,
    "unprivileged": 2,
}
FAMILIES = tuple(FAMILY_WEIGHTS)
assert set(PROCESS_FAMILIES) <= set(FAMILIES)


def make_case(seed: int, index: int, families: tuple[str, ...] = FAMILIES) -> Case:
    """The case number ``index`` of a run seeded ``seed`` drawn from ``families``: the same on
    every machine."""
    rng = random.Random(f"tokcheck-fuzz:{seed}:{index}")
    chosen = [f for f in FAMILIES if f in families]
    family = rng.choices(chosen, [FAMILY_WEIGHTS[f] for f in chosen])[0]
    if family in PROCESS_FAMILIES:
        return make_process_case(rng, seed, index, family)
    if family == "usage":
        return _usage_case(rng, seed, index)
    command = MODEL_COMMANDS[index % len(MODEL_COMMANDS)]
    as_json = (index // len(MODEL_COMMANDS)) % 2 == 0
    base = rng.choice(BASE_MODELS)
    data = base_model(base)
    if family == "proto-bytes":
        data, what = mutate_bytes(rng, data)
        files, model_rel, layout = _model_layout(rng, data, base)
    elif family == "proto-struct":
        data, what = mutate_proto(rng, data)
        files, model_rel, layout = _model_layout(rng, data, base)
    else:
        files, what = mutate_hf_dir(rng, base)
        model_rel, layout = "model", "dir"
    argv, outdir = _command_argv(rng, command, "{tmp}/" + model_rel, index)
    if as_json:
        argv.append("--json")
    description = f"{base} {family} ({layout}): {what}"
    return Case(
        seed, index, command, family, description, tuple(files), tuple(argv), as_json, outdir
    )


def _command_argv(
    rng: random.Random, command: str, model: str, index: int
) -> tuple[list[str], str | None]:
    if command == "inspect":
        return [command, model], None
    if command == "check":
        # Most base models' config.json names no family: without a waiver most would only be
        # asked for a profile, and the checks themselves never run.
        return [command, model] + (["--no-profile"] if rng.random() < 0.75 else []), None
    if command == "roundtrip":
        return [command, model, "--examples", "5"], None
    if command == "compare":
        # Every fourth compare case loads all the default candidates, not only AutoTokenizer.
        only_default = (index // len(MODEL_COMMANDS)) % 4 != 3
        return [command, model, "--examples", "5"] + (
            ["--candidate", "default"] if only_default else []
        ), None
    return [command, model, "{tmp}/out", "--examples", "5"], "out"


def _model_layout(
    rng: random.Random, data: bytes, base: str
) -> tuple[list[tuple[str, Node]], str, str]:
    """The mutated model as a bare .model file, or in its fixture's Hugging Face directory."""
    if rng.random() < 0.5:
        return [("spiece.model", data)], "spiece.model", "bare .model"
    files: list[tuple[str, Node]] = [("model/spiece.model", data)]
    files += [(f"model/{n}", b) for n, b in base_metadata(base).items()]
    return files, "model", "dir"


# --- usage cases ---------------------------------------------------------------------------------

# A path component longer than any usual file system allows (255 bytes): ENAMETOOLONG.
_TOO_LONG = "n" * 300


def _jsonl(hostile: bytes) -> bytes:
    """A JSONL corpus with one good record around ``hostile``: something is judged."""
    return b'{"text": "ok"}\n' + hostile + b'\n{"text": "also ok"}\n'


def _usage_case(rng: random.Random, seed: int, index: int) -> Case:
    """Command-line usage: odd option values, corpora, JUnit paths, OUTDIRs and MODELs."""
    model_files: list[tuple[str, Node]] = [
        ("model/spiece.model", base_model("tiny-neox")),
        *((f"model/{n}", b) for n, b in base_metadata("tiny-neox").items()),
    ]
    model = "{tmp}/model"
    small = ["--examples", "5"]
    options: list[tuple[str, list[tuple[str, Node]], list[str], str | None]] = [
        ("roundtrip --examples 0", [], ["roundtrip", model, "--examples", "0"], None),
        ("roundtrip --examples -1", [], ["roundtrip", model, "--examples", "-1"], None),
        ("roundtrip --seed huge", [], ["roundtrip", model, *small, "--seed", str(10**30)], None),
        ("compare --examples 0", [], ["compare", model, "--examples", "0"], None),
        ("compare --examples -1", [], ["compare", model, "--examples", "-1"], None),
        ("compare --show 0", [], ["compare", model, *small, "--show", "0"], None),
        (
            "compare --candidate unknown",
            [],
            ["compare", model, *small, "--candidate", "nope"],
            None,
        ),
        ("export --examples 0", [], ["export", model, "{tmp}/out", "--examples", "0"], "out"),
        ("export --examples -1", [], ["export", model, "{tmp}/out", "--examples", "-1"], "out"),
        ("export OUTDIR is a file", [("out", b"x")], ["export", model, "{tmp}/out", *small], None),
        (
            "export OUTDIR under a file",
            [("file", b"x")],
            ["export", model, "{tmp}/file/out", *small],
            None,
        ),
        (
            "export OUTDIR not empty",
            [("out/keep", b"x")],
            ["export", model, "{tmp}/out", *small],
            None,
        ),
        (
            "export a bare model, tokenizer.json garbage beside",
            [("model/tokenizer.json", b"garbage")],
            ["export", model, "{tmp}/out", *small],
            "out",
        ),
        (
            "gate --junit at a directory",
            [("junit", "dir")],
            ["gate", model, *small, "--junit", "{tmp}/junit"],
            None,
        ),
        (
            "gate --junit in a missing directory",
            [],
            ["gate", model, *small, "--junit", "{tmp}/missing/dir/report.xml"],
            None,
        ),
        ("check --profile unknown", [], ["check", model, "--profile", "no/such"], None),
        (
            "check --profile directory",
            [("p.toml", "dir")],
            ["check", model, "--profile", "{tmp}/p.toml"],
            None,
        ),
        (
            "check --profile invalid TOML",
            [("p.toml", b"name = [\n")],
            ["check", model, "--profile", "{tmp}/p.toml"],
            None,
        ),
        (
            "check --profile wrong types",
            [("p.toml", b'name = 5\nvocab_size = "big"\nbyte_fallback = "yes"\nmembers = 3\n')],
            ["check", model, "--profile", "{tmp}/p.toml"],
            None,
        ),
        (
            "check --profile invalid UTF-8",
            [("p.toml", b'name = "\xff\xfe"\n')],
            ["check", model, "--profile", "{tmp}/p.toml"],
            None,
        ),
        (
            "inspect MODEL is a FIFO",
            [("pipe.model", "fifo")],
            ["inspect", "{tmp}/pipe.model"],
            None,
        ),
        ("inspect MODEL is missing", [], ["inspect", "{tmp}/missing.model"], None),
        ("inspect MODEL is empty text", [], ["inspect", ""], None),
        ("inspect a directory with no model", [("empty", "dir")], ["inspect", "{tmp}/empty"], None),
        (
            "inspect spiece.model is a directory",
            [("m/spiece.model", "dir")],
            ["inspect", "{tmp}/m"],
            None,
        ),
        ("check an empty .model file", [("e.model", b"")], ["check", "{tmp}/e.model"], None),
        # Names and references that are ordinary mistakes, never "unexpected".
        ("inspect MODEL name too long", [], ["inspect", "{tmp}/" + _TOO_LONG], None),
        ("check MODEL .model name too long", [], ["check", _TOO_LONG + ".model"], None),
        ("inspect MODEL ~ of no user", [], ["inspect", "~tokcheck-no-such-user/model"], None),
        ("inspect MODEL mistyped", [], ["inspect", "{tmp}/mode"], None),
        ("check --revision empty", [], ["check", "someone/tiny", "--revision", ""], None),
        (
            "check --revision ../../..",
            [],
            ["check", "someone/tiny", "--revision", "../../.."],
            None,
        ),
        (
            "check a hub cache whose refs/main is a directory",
            [(".hub-cache/models--someone--tiny/refs/main", "dir")],
            ["check", "someone/tiny"],
            None,
        ),
        ("check --profile name too long", [], ["check", model, "--profile", _TOO_LONG], None),
        ("gate --junit empty", [], ["gate", model, *small, "--junit", ""], None),
        (
            "gate --junit name too long",
            [],
            ["gate", model, *small, "--junit", "{tmp}/" + _TOO_LONG + ".xml"],
            None,
        ),
        ("export OUTDIR name too long", [], ["export", model, "{tmp}/" + _TOO_LONG, *small], None),
    ]
    for command in ("compare", "gate"):
        corpus_cases: list[tuple[str, list[tuple[str, Node]]]] = [
            ("a directory", [("corpus", "dir")]),
            ("a FIFO", [("corpus", "fifo")]),
            ("missing", []),
            ("not UTF-8", [("corpus", b"ok line\n\xff\xfe bad\n\xc0\xaf\nok again\n")]),
            ("NUL bytes and lone CR", [("corpus", b"a\x00b\rc\r\n\x00\n")]),
            ("one 2 MB line", [("corpus", b"ab " * 700_000)]),
            ("empty", [("corpus", b"")]),
            # Records the JSON reader cannot convert: skipped and listed, never fatal.
            ("JSONL, a 5,000-digit integer", [("corpus.jsonl", _jsonl(b'{"text": ' + b"9" * 5000 + b"}"))]),
            ("JSONL, nested 100,000 deep", [("corpus.jsonl", _jsonl(b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"))]),
            ("JSONL, every record skipped", [("corpus.jsonl", b'{"other": "x"}\n' * 3)]),
        ]  # fmt: skip
        for what, files in corpus_cases:
            name = files[0][0] if files else "corpus"
            argv = [command, model, *small, "--corpus", "{tmp}/" + name, "--jobs", "2"]
            argv += ["--candidate", "default"] if command == "compare" else ["--no-profile"]
            options.append((f"{command} --corpus {what}", files, argv, None))
    description, extra, argv, outdir = options[rng.randrange(len(options))]
    as_json = rng.random() < 0.5
    if as_json:
        argv = [*argv, "--json"]
    return Case(
        seed,
        index,
        argv[0],
        "usage",
        f"tiny-neox usage: {description}",
        (*model_files, *extra),
        tuple(argv),
        as_json,
        outdir,
    )
