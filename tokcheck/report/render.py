"""What each report says as text: checks, inspections, tallies, counterexamples, comparisons,
round trips, exports and smoke runs (a counterexample's lines are
:mod:`tokcheck.report.examples`'s).

Every report's text form is built here (the gate's in :mod:`tokcheck.gate`), so the CLI, the
pytest plugin and :mod:`tokcheck.testing` word things the same way; drawing the tables and
writing them is :mod:`tokcheck.report.output`'s. A report's text is an
:class:`~tokcheck.report.output.Text`: its tables are drawn for the terminal's width, and its
other lines wrap to that width as they are printed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tokcheck import verdict
from tokcheck.candidates.base import short_class as short_class
from tokcheck.report import terminal
from tokcheck.report.examples import counterexample as counterexample
from tokcheck.report.examples import counterexamples as counterexamples
from tokcheck.report.examples import pieces, shown_text
from tokcheck.report.output import Text, cell, fits, listing, table

if TYPE_CHECKING:
    from tokcheck.checks.roundtrip import RoundtripReport
    from tokcheck.compare.fix import Fix
    from tokcheck.compare.report import CompareReport
    from tokcheck.export.run import ExportResult
    from tokcheck.judge.serving import ServingNote
    from tokcheck.judge.tally import Tally
    from tokcheck.smoke.run import SmokeReport


def checks(report: Any, *, title: str | None = None) -> str:
    """A check table, the skipped checks, what to do about each failure, and the verdict."""
    out = _check_table(report.checks, title)
    out[1:1] = [f"skipped {s.name}: {s.reason}" for s in report.skipped]
    caveats = getattr(report, "caveats", [])
    out += [f"caveat: {c}" for c in caveats]
    outcome = getattr(report, "verdict", None) or (
        verdict.PASSED if report.passed else verdict.FAILED
    )
    detail = ", ".join(report.failed) if outcome == verdict.FAILED else "; ".join(caveats)
    out.append(verdict.line(outcome, detail))
    return Text("\n".join(out))


def _check_table(items: Sequence[Any], title: str | None) -> list[str]:
    """The table of ``items`` (CheckResults) and what to do about each failure."""
    rows = [("PASS" if c.passed else "FAIL", c.name, c.expected, c.actual) for c in items]
    out = [table(("", "check", "expected", "actual"), rows, title=title)]
    return out + [f"FAIL {c.name}: {c.message}" for c in items if not c.passed]


def gguf_inspection(report: dict[str, Any]) -> str:
    """``tokcheck inspect FILE.gguf``: the tokenizer metadata, as llama.cpp reads it."""
    rows: list[tuple[str, Any]] = []
    for key, value in report.items():
        if isinstance(value, dict) and set(value) == {"written", "effective"}:
            value = _written(value)
        elif key == "special_ids":
            value = Text("\n".join(f"{k} {_written(v)}" for k, v in value.items()))
        elif key == "token_types":
            value = ", ".join(f"{v} {k}" for k, v in value.items())
        elif key == "tokens_over_binding_buffer":
            value = f"{value['count']}" + (
                f" (e.g. {value['examples'][0]!r})" if value["examples"] else ""
            )
        rows.append((key, value))
    return Text(table(("property", "value"), rows, title=f"GGUF {report['gguf']}"))


def serving(notes: Sequence[ServingNote]) -> list[str]:
    """What the serving algorithms lose on the model (tokcheck.judge.serving.serving_notes),
    its texts and chunks shown as counterexamples show them."""
    return [
        f"serving (the algorithm's, any tokenizer): {n.said(shown_text, pieces)}" for n in notes
    ]


def _written(value: dict[str, Any]) -> str:
    if value["written"] is None:
        effective = "none" if value["effective"] is None else cell(value["effective"])
        return f"{effective} (not written: llama.cpp's default)"
    return cell(value["written"])


def inspection(report: dict[str, Any]) -> str:
    skip = {"whitespace_encodings", "tokenizer_config", "special_tokens_map", "config"}
    skip |= {"piece_types", "hf_tokens"}
    rows = [
        (k, listing(v, k.replace("_", " ")) if isinstance(v, list | tuple) else v)
        for k, v in report.items()
        if k not in skip
    ]
    rows += [(f"pieces of type {k}", v) for k, v in report["piece_types"].items()]
    rows += [(f"encode({s!r})", v) for s, v in (report["whitespace_encodings"] or {}).items()]
    out = [table(("property", "value"), rows, title=f"sentencepiece model {report['source']}")]
    if report["hf_tokens"]:
        out += ["", *_hf_tokens(report["hf_tokens"], report["tokenizer_config"] or {})]
    if report["config"]:
        out += ["", table(("key", "value"), list(report["config"].items()), title="config.json")]
    return Text("\n".join(out))


_SETTINGS = ("tokenizer_class", "legacy", "add_bos_token", "add_eos_token")


def _setting(value: Any) -> Any:
    """true/false as the file spells them, and "unset" for a setting it leaves to the class."""
    return "unset" if value is None else json.dumps(value) if isinstance(value, bool) else value


def _hf_tokens(hf: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """The directory's tokenizer settings, "unset" where the file says nothing, its special
    tokens with their ids, and added_tokens.json with each entry's problem."""
    shown = {k: _setting(hf[k]) for k in _SETTINGS}
    special = {t["name"] for t in hf["special_tokens"]} | {"additional_special_tokens"}
    shown.update({k: v for k, v in config.items() if k not in shown and k not in special})
    out = [table(("key", "value"), list(shown.items()), title="tokenizer_config.json")]
    rows = [
        (t["name"], t["content"], t["id"], t["source"] or "not found", t["files"])
        for t in hf["special_tokens"]
    ]
    if rows:
        headers = ("special token", "content", "id", "from", "named in")
        out += ["", table(headers, rows, title="special tokens")]
    if hf["added_tokens"] is not None:
        added = [(t["content"], t["id"], t["problem"] or "ok") for t in hf["added_tokens"]]
        out += ["", table(("token", "id", "problem"), added, title="added_tokens.json")]
    return out


def profiles(items: Sequence[Any]) -> str:
    rows = [
        (
            p.name,
            p.vocab_size,
            p.byte_fallback,
            p.add_dummy_prefix,
            p.remove_extra_whitespaces,
            len(p.members),
            p.source,
        )
        for p in items
    ]
    headers = ("profile", "pieces", "byte_fallback", "dummy_prefix", "remove_ws", "members")
    return Text(table((*headers, "model card"), rows))


def tallies(items: Sequence[Tally], *, title: str | None = None) -> str:
    """The count of each kind of difference per candidate, with its class, lines and status:
    one row per candidate where the kinds fit as columns, else one row per kind (see
    :func:`_by_kind`)."""
    from tokcheck.judge.tally import KINDS

    rows = [
        (
            t.name,
            f"= {t.same_as}" if t.same_as else short_class(t.cls),
            t.lines,
            *(getattr(t, k) for k in KINDS),
            t.status,
        )
        for t in items
    ]
    headers = ("candidate", "class", "lines", *KINDS, "status")
    if fits(headers, rows):
        return table(headers, rows, title=title)
    return _by_kind(items, title)


def _by_kind(items: Sequence[Tally], title: str | None) -> str:
    """One row per kind and one column per tokenizer loaded: a candidate that loaded the same
    tokenizer as another is named in that one's column ("same tokenizer"), not given its own.
    The columns that do not fit the width go on in another table below."""
    from tokcheck.judge.tally import KINDS

    names = {t.name for t in items}
    own = [t for t in items if t.same_as not in names]
    twins = {t.name: ", ".join(u.name for u in items if u.same_as == t.name) for t in own}
    shown = any(twins.values())
    labels = ["class", *(["same tokenizer"] if shown else []), "lines", *KINDS, "status"]
    columns = {
        t.name: [
            short_class(t.cls),
            *([twins[t.name] or "-"] if shown else []),
            t.lines,
            *(getattr(t, k) for k in KINDS),
            t.status,
        ]
        for t in own
    }

    def part(taken: Sequence[str]) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        return ("candidate", *taken), list(zip(labels, *(columns[n] for n in taken), strict=True))

    if not columns:
        return "\n".join(filter(None, [title, "no candidate was judged"]))
    out: list[str] = []
    left = list(columns)
    while left:
        taken = 1
        while taken < len(left) and fits(*part(left[: taken + 1]), wrapped=True):
            taken += 1
        heads, rows = part(left[:taken])
        out += [*([""] if out else []), table(heads, rows, title=None if out else title)]
        left = left[taken:]
    return "\n".join(out)


def comparison(report: CompareReport) -> str:
    versions = report.versions
    title = (
        f"reference: sentencepiece {versions['sentencepiece']}; "
        f"transformers {versions['transformers']}"
    )
    out = [tallies(report.candidates, title=title)]
    out += [
        f"{t.name}: {why}"
        for t in report.candidates
        if (why := report.candidate_verdict(t)[1]) and t.same_as
    ]
    for u in report.unavailable:
        out.append(
            f"{'FAIL' if u in report.load_failures else 'not compared'}: {u.name}: {u.reason}"
        )
    for g in report.ggufs:
        out += ["", *_check_table(g.checks, f"GGUF {g.path}: its tokenizer against the model")]
    for t in report.candidates:
        if not t.same_as and (t.counterexamples or t.ties):
            out.append("")
            out += counterexamples(t)
    out += [
        f"corpus {c['path']}: {c['judged']} records judged, {c['skipped']} skipped"
        for c in report.inputs.get("corpus_counts", [])
    ]
    skipped = report.inputs["skipped_lines"]
    if skipped:
        out.append(
            f"skipped {len(skipped)} corpus record(s): "
            + ", ".join(_skipped(s) for s in skipped[:10])
            + (", ..." if len(skipped) > 10 else "")
        )
    out.extend(f"warning: {w}" for w in report.warnings)
    out.extend(serving(report.serving))
    out.extend(f"caveat: {c}" for c in report.caveats)
    twins = {t.name for t in report.candidates if t.same_as}
    out.extend(f"injection: {r.summary()}" for r in report.remedies if r.candidate not in twins)
    mb = report.inputs["bytes"] / 1e6
    if report.prompts:
        out.append(report.prompts.summary())
    out.append(f"{report.inputs['lines']} lines ({mb:.2f} MB) in {report.elapsed_s:.2f} s")
    judged = ", ".join(report.judged)
    outcome = report.verdict
    if found := report.fix:
        out += fix(found)
    if outcome == verdict.FAILED:
        detail = report.advise(brief=True) or ""
    elif outcome == verdict.CAVEATS:
        detail = f"{judged} matches sentencepiece, with {len(report.caveats)} caveat(s) above"
    else:
        detail = f"{judged} matches sentencepiece"
    out.append(verdict.line(outcome, detail))
    return Text("\n".join(out))


def fix(found: Fix) -> list[str]:
    """The fix block before a failing compare's or gate's verdict: what transformers does to
    the model, the export command, how to load the export and what to ship."""
    out = [
        f"fix: {found.said}",
        "  export an exact tokenizer.json, verified against sentencepiece:",
        *terminal.command(found.command, 4, terminal.columns()),
    ]
    return out + [f"  {line}" for line in load_and_ship(found.load, found.files, indent=2)]


def load_and_ship(
    load: Sequence[str], files: Sequence[str], lead: str = "then load it", indent: int = 0
) -> list[str]:
    """The lines that load an export, laid out for the terminal's width where they will be
    indented ``indent`` columns, and the files to ship beside the weights."""
    limit = terminal.columns() - indent
    # Indented under the lead, unless a line that cannot be split (the import) would not fit.
    inset = 2 if all(terminal.width(line) + 2 <= limit for line in load if "(" not in line) else 0
    return [
        f"{lead}:",
        *(shown for line in load for shown in terminal.call(line, inset, limit)),
        f"and ship these files beside the weights: {', '.join(files)}",
    ]


def _skipped(entry: dict[str, Any]) -> str:
    where = (
        f"{entry['path']}:{entry['line']}"
        if "line" in entry
        else f"{entry['path']}[{entry['row']}]"
    )
    return f"{where} ({entry['reason']})"


def roundtrip(report: RoundtripReport) -> str:
    rows = [
        ("PASS" if p.passed else "FAIL", p.name, p.examples, p.counterexample)
        for p in report.properties
    ]
    out = [
        table(
            ("", "property", "examples", "minimal counterexample"),
            rows,
            title=f"round-trip properties of {report.source} (seed {report.seed})",
        )
    ]
    for p in report.properties:
        if not p.passed:
            out.append(f"FAIL {p.name}: {p.detail}")
            out.append(f"  replay: {p.replay}")
    failed = ", ".join(p.name for p in report.properties if not p.passed)
    out.append(verdict.line(verdict.FAILED if failed else verdict.PASSED, failed))
    return Text("\n".join(out))


def exported(result: ExportResult) -> str:
    out = [tallies(result.tallies, title=f"verified against sentencepiece on {result.lines} lines")]
    for t in result.tallies:
        if t.counterexamples or t.ties:
            out.append("")
            out += counterexamples(t)
    out += [f"caveat: {w}" for w in result.caveats]
    if result.written:
        note = " (written with --force)" if not result.passed else ""
        out.append(f"wrote {result.outdir}{note}: {', '.join(result.files)}")
        if result.passed:
            out += _load_export(result)
        out.append(verdict.line(result.verdict, result.status))
    else:
        out.append(f"refused: {result.status}; nothing written (--force writes it anyway)")
        out.append(verdict.line(verdict.FAILED, result.status))
    return Text("\n".join(out))


def _load_export(result: ExportResult) -> list[str]:
    """How to use a written export: load it (with transformers; transformers.js loads the same
    files its own way) and ship its files but the model's own config beside the weights."""
    from tokcheck.compare.fix import load_snippet

    files = [f for f in result.files if f not in ("config.json", "generation_config.json")]
    if result.target == "tokenizers":
        return load_and_ship(load_snippet(result.outdir), files, "load it with transformers")
    return [f"ship these files beside the weights: {', '.join(files)}"]


def smoke(report: SmokeReport) -> str:
    figures = [
        ("weights", report.weights),
        ("device", report.device),
        ("dtype", report.dtype),
        ("parameters", f"{report.parameters:,}" if report.parameters else None),
        ("load s", report.load_s),
        ("prompt tokens", report.prompt_tokens),
        ("new tokens", report.new_tokens),
        ("warm-up generate s", report.warmup_s),
        ("timed generate s", report.generate_s),
        ("tokens/s", report.tokens_per_s),
        ("peak GPU memory bytes", report.peak_gpu_memory_bytes),
    ]
    title = (
        f"smoke {report.directory} — profile: {report.profile or 'none'} ({report.prompt_format})"
    )
    out = [table(("figure", "value"), figures, title=title)]
    out.append(f"\nprompt: {report.prompt!r}\noutput: {report.output!r}\n")
    if report.losses is not None:
        rows = [
            (r["path"], r.get("class", "-"), r.get("ids"), r.get("same_ids"), r.get("loss"))
            if "error" not in r
            else (r["path"], r["error"], None, None, None)
            for r in report.losses
        ]
        headers = ("path", "class", "ids", "same ids", "loss")
        out.append(table(headers, rows, title="teacher-forced loss of a short reference text"))
        out.append("")
    out.append(checks(report))
    return Text("\n".join(out))
