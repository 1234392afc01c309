"""pytest plugin: ``pytest --tokcheck-model MODEL`` turns tokcheck's verdicts into test items.

One item per check, per compare candidate and per round-trip property, so failures show like any
other test. Without ``--tokcheck-model`` the plugin adds no items and imports nothing heavy; the
``tokcheck`` fixture is available either way for users' own tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tokcheck", "tokenizer validation with tokcheck")
    group.addoption(
        "--tokcheck-model", metavar="MODEL", help="validate this model: .model, HF dir or hub id"
    )
    group.addoption(
        "--tokcheck-profile", metavar="NAME|FILE", help="profile (default: from the hub id)"
    )
    group.addoption(
        "--tokcheck-corpus",
        action="append",
        default=[],
        metavar="FILE",
        help="corpus for compare (repeatable): a path or an fsspec URL",
    )
    group.addoption(
        "--tokcheck-field",
        default="text",
        metavar="NAME",
        help="the JSONL key or Parquet column of the corpora's text (default: text)",
    )
    group.addoption(
        "--tokcheck-jobs",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="processes judging the corpora; the verdicts are the same for every N "
        "(default: this machine's cores)",
    )
    group.addoption(
        "--tokcheck-strict",
        action="store_true",
        help="fail compare on ties too (other ids for the same text, scoring the same)",
    )
    group.addoption(
        "--tokcheck-examples",
        type=int,
        default=500,
        metavar="N",
        help="Hypothesis examples (default 500)",
    )


class _Gate:
    """Runs the gate once per session, on first use."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._report: Any = None

    @property
    def report(self) -> Any:
        if self._report is None:
            from tokcheck.corpus import is_url
            from tokcheck.errors import TokcheckError
            from tokcheck.gate import run_gate
            from tokcheck.profiles import load_profile, profile_for_hub_id
            from tokcheck.testing import load

            opt = self.config.getoption
            for option in ("examples", "jobs"):
                if (value := opt(f"tokcheck_{option}")) < 1:
                    raise TokcheckError(f"--tokcheck-{option} must be >= 1, got {value}")
            resolved, model = load(opt("tokcheck_model"))
            name = opt("tokcheck_profile")
            profile = (
                load_profile(name)
                if name
                else (profile_for_hub_id(resolved.hub_id) if resolved.hub_id else None)
            )
            self._report = run_gate(
                resolved,
                model,
                profile,
                corpora=[p if is_url(p) else Path(p) for p in opt("tokcheck_corpus")],
                field=opt("tokcheck_field"),
                examples=opt("tokcheck_examples"),
                strict=opt("tokcheck_strict"),
                jobs=opt("tokcheck_jobs"),
            )
        return self._report


class TokcheckItem(pytest.Item):
    def __init__(self, *, verdict: Callable[[Any], tuple[bool, str]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.verdict = verdict

    def runtest(self) -> None:
        gate: _Gate = self.config.stash[_GATE]
        ok, message = self.verdict(gate.report)
        if not ok:
            raise TokcheckFailure(message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, TokcheckFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return Path(str(self.config.getoption("tokcheck_model"))), 0, self.name


class TokcheckFailure(Exception):
    pass


_GATE = pytest.StashKey[_Gate]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_GATE] = _Gate(config)


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if not config.getoption("tokcheck_model"):
        return
    gate = config.stash[_GATE]
    from tokcheck.errors import TokcheckError

    try:
        report = gate.report
    except TokcheckError as e:
        raise pytest.UsageError(f"tokcheck: {e}") from e
    items.extend(_items(session, report))


def _items(parent: Any, report: Any) -> Iterator[TokcheckItem]:
    def make(name: str, verdict: Callable[[Any], tuple[bool, str]]) -> TokcheckItem:
        return TokcheckItem.from_parent(parent, name=name, verdict=verdict)

    for c in report.check.checks:
        yield make(f"tokcheck::check[{c.name}]", partial(_check, name=c.name))
    for c in report.compare.candidates:
        yield make(f"tokcheck::compare[{c.name}]", partial(_candidate, name=c.name))
    for u in report.compare.load_failures:
        yield make(f"tokcheck::compare[{u.name}]", partial(_load_failure, name=u.name))
    for p in report.roundtrip.properties:
        yield make(f"tokcheck::roundtrip[{p.name}]", partial(_property, name=p.name))


def _check(report: Any, name: str) -> tuple[bool, str]:
    c = next(c for c in report.check.checks if c.name == name)
    return c.passed, f"{c.name}: {c.message} (expected {c.expected!r}, actual {c.actual!r})"


def _candidate(report: Any, name: str) -> tuple[bool, str]:
    from tokcheck import render
    from tokcheck.compare import advice

    compare = report.compare
    c = next(c for c in compare.candidates if c.name == name)
    ok = compare.accepts(c)
    lines = [f"{name} ({c.cls}) {c.summary()}", *render.counterexamples(c)]
    if ok and name in compare.judged and (warning := c.tie_warning()):
        import warnings

        from tokcheck.testing import TieWarning

        warnings.warn(TieWarning(warning), stacklevel=1)
    if not ok:
        lines.append(f"next: {advice(compare, report.model)}")
    return ok, "\n".join(lines)


def _load_failure(report: Any, name: str) -> tuple[bool, str]:
    from tokcheck.compare import advice

    u = next(u for u in report.compare.load_failures if u.name == name)
    return False, f"{name} {u.reason}; next: {advice(report.compare, report.model)}"


def _property(report: Any, name: str) -> tuple[bool, str]:
    p = next(p for p in report.roundtrip.properties if p.name == name)
    return p.passed, f"{p.name}: {p.detail}; replay: {p.replay}"


@pytest.fixture
def tokcheck() -> Any:
    """The :mod:`tokcheck.testing` helpers, for users' own tests."""
    from tokcheck import testing

    return testing
