"""pytest plugin: ``pytest --tokcheck-model MODEL`` turns tokcheck's gate into test items.

The model file is collected as a file of tests: one item per check, per compare candidate and
per round-trip property (``spiece.model::compare[default]``), with the same verdicts as
``tokcheck gate`` (:func:`tokcheck.gate.cases`): a candidate that loads the same tokenizer as a
failing one fails with it, and what does not apply is skipped with its reason. Collecting runs
only the cheap ``check`` step (it names the check items); compare and roundtrip run once each,
when the first of their items runs, so ``-k``, node ids and ``--lf`` run only what they select.

Without ``--tokcheck-model`` the plugin adds no items and imports nothing heavy; the
``tokcheck`` fixture is available either way for users' own tests. Usage errors (an empty or
unknown model, a bad option) are pytest usage errors: ``ERROR: tokcheck: ...``, exit 4.
"""

from __future__ import annotations

from collections.abc import Iterator
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
        "--tokcheck-profile",
        metavar="NAME|FILE",
        help="profile (default: from the hub id or the directory's config.json)",
    )
    group.addoption(
        "--tokcheck-no-profile",
        action="store_true",
        help="no family expectations: generic checks only (the pass carries that caveat)",
    )
    from tokcheck import options

    # compare's flags as tokcheck gate has them, prefixed (--tokcheck-corpus, ...).
    options.add_options(group.addoption, "--tokcheck-", min_examples=1)


class _Gate:
    """The model and the gate's steps for one session: check at once, compare and roundtrip
    on first use."""

    def __init__(self, config: pytest.Config, model: str) -> None:
        from tokcheck.checks.rules import run_checks
        from tokcheck.model.profiles import select
        from tokcheck.testing import load

        opt = config.getoption
        if opt("tokcheck_profile") and opt("tokcheck_no_profile"):
            raise pytest.UsageError("tokcheck: give --tokcheck-profile or --tokcheck-no-profile")
        self.config = config
        self.resolved, self.model = load(model)
        self.model_file = self.resolved.model_file.resolve()
        chosen = (
            select(None, None, None, waived=True)
            if opt("tokcheck_no_profile")
            else select(opt("tokcheck_profile"), self.resolved.hub_id, self.resolved.config)
        )
        self.profile = chosen.profile
        from tokcheck import options

        get = partial(getattr, config.option)  # the values, stored under tokcheck_NAME
        self.options = options.compare_options(lambda name: get(f"tokcheck_{name}"))
        self.engine = options.engine(lambda name: get(f"tokcheck_{name}"))
        from tokcheck.candidates.registry import require_known

        # The compare items' names: a name given wrong is a usage error, not a failed item.
        self.candidates = require_known(self.options.candidates, self.options.ggufs)
        self.strict = self.options.strict
        from tokcheck.checks.gguf import check_gguf
        from tokcheck.model.gguf_vocab import read_gguf

        # Read now: a GGUF that is not one is a usage error, and its findings name items.
        self.gguf_checks = [check_gguf(read_gguf(g), self.model) for g in self.options.ggufs]
        self.check = run_checks(
            self.resolved, self.model, self.profile, how=chosen.how, strict=self.strict
        )
        self._compare: Any = None
        self._roundtrip: Any = None
        self.collected = False

    @property
    def name(self) -> str:
        return self.resolved.name

    def compare(self) -> Any:
        if self._compare is None:
            from tokcheck.compare.run import compare

            self._compare = compare(
                self.resolved, self.model, self.options, profile=self.profile, engine=self.engine
            )
        return self._compare

    def roundtrip(self) -> Any:
        if self._roundtrip is None:
            from tokcheck.checks.roundtrip import roundtrip

            self._roundtrip = roundtrip(
                self.model,
                examples=self.options.examples,
                seed=self.options.seed,
                replay_hint=f"tokcheck roundtrip {self.name}",
            )
        return self._roundtrip


_GATE = pytest.StashKey[_Gate | None]()


def pytest_configure(config: pytest.Config) -> None:
    model = config.getoption("tokcheck_model")
    config.stash[_GATE] = None
    if model is None:
        return
    if not str(model).strip():
        raise pytest.UsageError(
            "tokcheck: --tokcheck-model is empty (an unset variable?): give a .model file, a "
            "Hugging Face directory or a hub id"
        )
    from tokcheck.errors import TokcheckError, one_line

    try:
        config.stash[_GATE] = _Gate(config, model)
    except TokcheckError as e:
        # The command line's option names, as this plugin spells them.
        said = one_line(str(e)).replace("--no-profile", "--tokcheck-no-profile")
        said = said.replace("--profile", "--tokcheck-profile")
        raise pytest.UsageError(f"tokcheck: {said}") from e
    except Exception as e:  # an input resolving cannot read: still the user's, named
        raise pytest.UsageError(f"tokcheck: {model}: {one_line(str(e))}") from e


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> TokcheckFile | None:
    gate = parent.config.stash.get(_GATE, None)
    if gate is None or file_path.resolve() != gate.model_file:
        return None
    gate.collected = True
    return TokcheckFile.from_parent(parent, path=file_path)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """The model's items, where the paths pytest was given did not lead to its file; before
    ``-k``, ``-m`` and ``--lf`` select among all items."""
    gate = config.stash.get(_GATE, None)
    if gate is None or gate.collected:
        return
    gate.collected = True
    path = gate.model_file
    try:
        nodeid = str(path.relative_to(config.rootpath))
    except ValueError:  # outside the rootdir: the node id is the absolute path
        nodeid = str(path)
    node = TokcheckFile.from_parent(session, path=path, nodeid=nodeid)
    items.extend(session.genitems(node))


class TokcheckFile(pytest.File):
    """The model file, as a file of tests."""

    def collect(self) -> Iterator[TokcheckItem]:
        from tokcheck.candidates.llamacpp import candidate_names
        from tokcheck.checks.roundtrip import property_names
        from tokcheck.report.cases import check_cases, gguf_cases

        gate: _Gate | None = self.config.stash[_GATE]
        assert gate is not None
        steps = [("check", case.name) for case in check_cases(gate.check)]
        steps += [("compare", name) for name in gate.candidates]
        steps += [
            ("compare", name)
            for name in candidate_names(gate.options.ggufs)
            if name not in gate.candidates
        ]
        steps += [("compare", case.name) for case in gguf_cases(gate.gguf_checks)]
        if self.config.getoption("tokcheck_corpus"):
            steps.append(("compare", "corpus"))
        steps += [("roundtrip", name) for name in property_names(gate.model)]
        structured = hasattr(self, "id")  # pytest 9.2 and later: node ids with parts
        for step, case in steps:
            # Shaped like a parametrized test's (step[case]), so node ids given back to
            # pytest (a re-run, --lf) name these items.
            extra = {"nodeid": self.id.child(step).with_params(case)} if structured else {}
            yield TokcheckItem.from_parent(
                self, name=f"{step}[{case}]", step=step, case=case, **extra
            )


class TokcheckItem(pytest.Item):
    def __init__(self, *, step: str, case: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.step = step
        self.case = case

    def runtest(self) -> None:
        from tokcheck.errors import TokcheckError, one_line
        from tokcheck.report import cases

        gate: _Gate | None = self.config.stash[_GATE]
        assert gate is not None
        try:
            if self.step == "check":
                found = cases.check_cases(gate.check)
            elif self.step == "compare":
                found = cases.compare_cases(gate.compare(), gate.name)
            else:
                found = cases.roundtrip_cases(gate.roundtrip())
        except TokcheckError as e:  # found only while judging (a corpus of no judged line)
            raise TokcheckFailure(f"tokcheck: error: {one_line(str(e))}") from e
        case = next((c for c in found if c.name == self.case), None)
        if case is None:
            raise TokcheckFailure(f"{self.name}: tokcheck gave no verdict for it")
        if case.outcome == cases.SKIP:
            pytest.skip(case.message)
        if case.outcome == cases.FAIL:
            raise TokcheckFailure(case.message)
        if self.step == "compare":
            _warn_ties(gate.compare(), self.case)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, TokcheckFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"tokcheck {self.name}"


def _warn_ties(compare: Any, name: str) -> None:
    """A judged candidate that passed but for ties: the pass is shown with its caveat."""
    import warnings

    from tokcheck.testing import TieWarning

    tally = next((t for t in compare.candidates if t.name == name), None)
    if tally is not None and compare.is_judged(tally) and (warning := tally.tie_warning()):
        warnings.warn(TieWarning(warning), stacklevel=1)


class TokcheckFailure(Exception):
    pass


@pytest.fixture
def tokcheck() -> Any:
    """The :mod:`tokcheck.testing` helpers, for users' own tests."""
    from tokcheck import testing

    return testing
