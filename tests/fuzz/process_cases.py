"""Process cases: scenarios that need a real ``tokcheck`` process and something done to it.

Four families, each drawn from the case's seeded generator:

- ``signal``: Ctrl-C, SIGTERM or SIGHUP (once, or twice for the two that promise a second one
  ends at once) to the process or its whole group, at a random moment or once its workers run,
  during compare (``--jobs``, the Dask engine), gate, export, roundtrip or inspect;
- ``mount``: export with ``--force`` onto the model it reads, reached through a bind mount of
  its parent or of itself (where this user may mount), a symlinked parent, or with a hard link
  of a model file inside OUTDIR;
- ``scheduler``: ``--engine dask --scheduler`` at a fake peer on 127.0.0.1 that never answers,
  closes, answers HTTP, sends garbage, drips a byte at a time, or is not listening;
- ``unprivileged``: a run as an unprivileged user (dropped to from root; as this user
  otherwise) on a model, corpus, OUTDIR, JUnit file, cache or home it may not read or write.

This module only builds the cases (files, argv and the scenario's parameters); :mod:`process`
runs them and records what the contract judges.
"""

from __future__ import annotations

import random

from .base import Case, Node, base_metadata, base_model

PROCESS_FAMILIES = ("signal", "mount", "scheduler", "unprivileged")

_WORDS = ("the", "cat", "sat", "on", "a", "mat", "吾輩は", "猫", "である", "😀", "x\ty", "  ")


def make_process_case(rng: random.Random, seed: int, index: int, family: str) -> Case:
    """The case number ``index`` of ``family``, one of :data:`PROCESS_FAMILIES`."""
    build = {
        "signal": _signal_case,
        "mount": _mount_case,
        "scheduler": _scheduler_case,
        "unprivileged": _unprivileged_case,
    }[family]
    return build(rng, seed, index)


def _model(prefix: str = "model") -> list[tuple[str, Node]]:
    return [
        (f"{prefix}/spiece.model", base_model("tiny-neox")),
        *((f"{prefix}/{n}", b) for n, b in base_metadata("tiny-neox").items()),
    ]


def _corpus(rng: random.Random, lines: int) -> bytes:
    line = " ".join(rng.choices(_WORDS, k=40)) + "\n"
    return (line * lines).encode()


def _case(
    seed: int,
    index: int,
    family: str,
    description: str,
    files: list[tuple[str, Node]],
    argv: list[str],
    scenario: dict[str, str],
    outdir: str | None = None,
) -> Case:
    as_json = "--json" in argv
    return Case(
        seed,
        index,
        argv[0],
        family,
        description,
        tuple(files),
        tuple(argv),
        as_json,
        outdir,
        tuple(sorted(scenario.items())),
    )


# --- signal --------------------------------------------------------------------------------------


def _signal_case(rng: random.Random, seed: int, index: int) -> Case:
    model = "{tmp}/model"
    lines = rng.choice((200, 3_000, 30_000))
    files = [*_model(), ("corpus.txt", _corpus(rng, lines))]
    corpus = ["--corpus", "{tmp}/corpus.txt"]
    command = rng.choices(
        ("compare", "compare-dask", "gate", "export", "roundtrip", "inspect"), (6, 1, 2, 2, 1, 1)
    )[0]
    outdir = None
    jobs = rng.choice(("1", "2"))
    if command == "compare":
        argv = ["compare", model, *corpus, "--jobs", jobs, "--examples", rng.choice(("0", "20"))]
    elif command == "compare-dask":
        argv = ["compare", model, *corpus, "--jobs", "2", "--examples", "0", "--engine", "dask"]
    elif command == "gate":
        argv = ["gate", model, *corpus, "--jobs", jobs, "--examples", "5", "--no-profile"]
    elif command == "export":
        argv = ["export", model, "{tmp}/out", "--examples", rng.choice(("5", "300"))]
        outdir = "out"
    elif command == "roundtrip":
        argv = ["roundtrip", model, "--examples", rng.choice(("20", "300"))]
    else:
        argv = ["inspect", model]
    if rng.random() < 0.5:
        argv.append("--json")
    name = rng.choices(("SIGINT", "SIGTERM", "SIGHUP"), (2, 2, 1))[0]
    scenario = {
        "signal": name,
        "target": rng.choice(("process", "group")),
        # "workers": once the run has started its worker processes (when it has any).
        "when": "workers" if jobs == "2" and rng.random() < 0.5 else "delay",
        "delay": f"{rng.uniform(0.0, 6.0):.2f}",
        # A second SIGTERM or SIGHUP while the first unwinds ends the process at once.
        "twice": "yes" if name != "SIGINT" and rng.random() < 0.15 else "no",
        "engine": "dask" if command == "compare-dask" else "local",
    }
    what = (
        f"{name} to the {scenario['target']} "
        + ("once workers run" if scenario["when"] == "workers" else f"after {scenario['delay']} s")
        + (", twice" if scenario["twice"] == "yes" else "")
        + f", {lines} corpus lines"
    )
    return _case(seed, index, "signal", f"tiny-neox signal: {what}", files, argv, scenario, outdir)


# --- mount ---------------------------------------------------------------------------------------

# Each layout: how the model and OUTDIR are reached (``alias`` is made by the runner), and
# whether OUTDIR, by another name, is the model's directory or holds it.
_MOUNT_LAYOUTS = {
    # bind mount {tmp}/alias of {tmp}/parent
    "bind-parent: OUTDIR the model through the mount": ("bind-parent", "{src}", "{alias}/model"),
    "bind-parent: model through the mount, OUTDIR by its path": (
        "bind-parent",
        "{alias}/model",
        "{src}",
    ),
    "bind-parent: OUTDIR the mounted parent": ("bind-parent", "{src}", "{alias}"),
    # bind mount {tmp}/alias of {tmp}/parent/model itself
    "bind-model: OUTDIR the mount of the model": ("bind-model", "{src}", "{alias}"),
    "bind-model: model through the mount, OUTDIR by its path": ("bind-model", "{alias}", "{src}"),
    # symlink {tmp}/alias -> parent
    "symlink-parent: OUTDIR the model through the link": ("symlink", "{src}", "{alias}/model"),
    "symlink-parent: model through the link, OUTDIR by its path": (
        "symlink",
        "{alias}/model",
        "{src}",
    ),
    # {tmp}/out/deep/spiece.model is a hard link of the model's file
    "hard link of spiece.model inside OUTDIR": ("hardlink", "{src}", "{tmp}/out"),
}


def _mount_case(rng: random.Random, seed: int, index: int) -> Case:
    what = rng.choice(sorted(_MOUNT_LAYOUTS))
    kind, model, outdir = _MOUNT_LAYOUTS[what]
    src = "{tmp}/parent/model"
    argv = ["export", model.format(src=src, alias="{tmp}/alias"), "", "--force", "--examples", "5"]
    argv[2] = outdir.format(src=src, alias="{tmp}/alias", tmp="{tmp}")
    if rng.random() < 0.5:
        argv.append("--json")
    scenario = {"alias": kind, "model": "parent/model"}
    files = _model("parent/model")
    return _case(seed, index, "mount", f"tiny-neox mount: {what}", files, argv, scenario)


# --- scheduler -----------------------------------------------------------------------------------

SCHEDULER_PEERS = ("silent", "closes", "http", "garbage", "drip", "not-listening")


def _scheduler_case(rng: random.Random, seed: int, index: int) -> Case:
    peer = rng.choice(SCHEDULER_PEERS)
    files = [*_model(), ("corpus.txt", _corpus(rng, 20))]
    argv = ["compare", "{tmp}/model", "--corpus", "{tmp}/corpus.txt", "--examples", "0"]
    argv += ["--engine", "dask", "--scheduler", "{scheduler}"]
    if rng.random() < 0.5:
        argv.append("--json")
    scenario = {"peer": peer}
    description = f"tiny-neox scheduler: a peer that is {peer}"
    return _case(seed, index, "scheduler", description, files, argv, scenario)


# --- unprivileged --------------------------------------------------------------------------------

# What this user may not do, as (description, paths and their modes, argv); the runner applies
# the modes after materialising and restores them before cleaning up.
_DENIED: tuple[tuple[str, tuple[tuple[str, str], ...], tuple[str, ...]], ...] = (
    ("model directory not searchable", (("model", "644"),), ("check", "{tmp}/model")),
    ("model parent not searchable", (("top", "644"),), ("inspect", "{tmp}/top/model")),
    ("spiece.model unreadable", (("model/spiece.model", "000"),), ("inspect", "{tmp}/model")),
    (
        "tokenizer_config.json unreadable",
        (("model/tokenizer_config.json", "000"),),
        ("check", "{tmp}/model"),
    ),
    ("bare .model unreadable", (("model/spiece.model", "000"),), ("check", "{tmp}/model/spiece.model")),
    (
        "corpus unreadable",
        (("corpus.txt", "000"),),
        ("compare", "{tmp}/model", "--corpus", "{tmp}/corpus.txt", "--examples", "5"),
    ),
    (
        "OUTDIR's parent not writable",
        (("ro", "555"),),
        ("export", "{tmp}/model", "{tmp}/ro/out", "--examples", "5"),
    ),
    (
        "OUTDIR exists, not writable, --force",
        (("ro/out", "555"), ("ro", "555")),
        ("export", "{tmp}/model", "{tmp}/ro/out", "--force", "--examples", "5"),
    ),
    (
        "--junit in a directory not writable",
        (("ro", "555"),),
        ("gate", "{tmp}/model", "--no-profile", "--examples", "5", "--junit", "{tmp}/ro/r.xml"),
    ),
    ("home not writable", (("home", "555"),), ("compare", "{tmp}/model", "--examples", "5")),
    (
        "hub cache not readable",
        ((".hub-cache", "000"),),
        ("check", "someone/tiny"),
    ),
    (
        "working directory not writable",
        (("cwd", "555"),),
        ("roundtrip", "{tmp}/model", "--examples", "5"),
    ),
)  # fmt: skip


def _unprivileged_case(rng: random.Random, seed: int, index: int) -> Case:
    what, modes, base_argv = _DENIED[rng.randrange(len(_DENIED))]
    argv = list(base_argv)
    if rng.random() < 0.5:
        argv.append("--json")
    files: list[tuple[str, Node]] = [*_model(), *_model("top/model")]
    files += [("corpus.txt", b"one\ntwo\n"), ("ro", "dir"), ("home", "dir"), ("cwd", "dir")]
    files += [(".hub-cache/models--someone--tiny", "dir")]
    if "--force" in argv:
        files.append(("ro/out/keep", b"x"))
    scenario = {"modes": " ".join(f"{p}={m}" for p, m in modes)}
    if what == "working directory not writable":
        scenario["cwd"] = "cwd"
    outdir = "ro/out" if argv[0] == "export" and "--force" not in argv else None
    return _case(
        seed,
        index,
        "unprivileged",
        f"tiny-neox unprivileged: {what}",
        files,
        argv,
        scenario,
        outdir,
    )
