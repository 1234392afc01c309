"""``--html FILE``: the self-contained HTML report of compare and gate.

The page is checked as text (every report text escaped, no address of any kind, ties marked)
and, where a Chromium is installed, as a real headless browser renders it: the verdict, the
candidate x kind table and an aligned counterexample are in the DOM it builds.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tokcheck.cli import main
from tokcheck.compare.options import CompareOptions
from tokcheck.compare.report import CompareReport
from tokcheck.compare.run import compare
from tokcheck.judge.tally import Counterexample
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import resolve
from tokcheck.report import html, render
from tokcheck.report.view import compared

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# Diverges under transformers 5 (its slow and fast paths drop the byte fallback).
MODEL = FIXTURES / "neox-3.6b"
CORPUS = ["吾輩は猫である。", "hello world", "<script>alert(1)</script>", "  spaces  "]
HOSTILE = "<script>alert('x')</script>\u202e&amp;\"'"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "c.txt"
    path.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def report(corpus: Path) -> CompareReport:
    resolved = resolve(str(MODEL))
    sp = SentencePieceModel.load(resolved.model_file)
    options = CompareOptions(corpora=[corpus], examples=10, prompts=1, candidates=["default"])
    return compare(resolved, sp, options)


def _page(report: CompareReport) -> str:
    return html.page(compared(report, str(MODEL), render.comparison))


def _hostile(report: CompareReport, *, tie: bool = False) -> CompareReport:
    """``report`` whose first candidate has one counterexample (or tie) of hostile text only."""
    example = Counterexample(
        text=HOSTILE,
        origin=f"corpus<{HOSTILE}>",
        kinds=["tie"] if tie else ["mismatched", "decode_mismatched"],
        first_divergence=1,
        offset=0,
        reference_ids=[5, 6, 7],
        candidate_ids=[5, 8],
        reference_pieces=["<script>", "</b>", "\u0000"],
        candidate_pieces=["<script>", "<img src=x onerror=alert(1)>"],
        reference_decoded=HOSTILE,
        candidate_decoded="<script>",
    )
    first = report.candidates[0]
    changed = dataclasses.replace(
        first,
        counterexamples=[] if tie else [example],
        ties=[example] if tie else [],
    )
    return dataclasses.replace(report, candidates=[changed])


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, Any]]] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data


def test_every_report_text_is_escaped(report: CompareReport) -> None:
    page = _page(_hostile(report))
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    # A bidi override and a NUL are shown as escapes, not left to reorder or hide the text.
    assert "\u202e" not in page
    assert "\\u202e" in page
    assert "\x00" not in page
    assert "\\u0000" in page
    tags = _Tags()
    tags.feed(page)
    assert {t for t, _ in tags.tags} <= {
        *[
            "html",
            "head",
            "meta",
            "title",
            "style",
            "body",
            "h1",
            "h2",
            "h3",
            "p",
            "span",
            "table",
            "tr",
            "th",
            "td",
            "b",
            "br",
            "div",
            "ul",
            "li",
            "code",
        ],
        "wbr",
    }


def test_the_page_holds_no_address_and_needs_no_script(report: CompareReport) -> None:
    for page in (_page(report), _page(_hostile(report))):
        tags = _Tags()
        tags.feed(page)
        for tag, attrs in tags.tags:
            assert tag not in ("script", "link", "img", "iframe", "object", "embed")
            assert not {"src", "href", "action", "srcset"} & set(attrs), tag
            assert not any(a.startswith("on") for a in attrs), tag
        assert "url(" not in tags.style
        assert "@import" not in tags.style
    # Without the probes' own texts (one is a URL), "http" appears nowhere at all.
    assert "http" not in _page(_hostile(report))


def test_ties_are_marked_as_ties(report: CompareReport) -> None:
    page = _page(_hostile(report, tie=True))
    assert "class='example tie'" in page
    assert "<b>tie</b>" in page
    assert "class='example'" not in page


def test_the_verdict_kinds_and_sources(report: CompareReport, corpus: Path) -> None:
    page = _page(report)
    assert '<span class="verdict failed">failed</span>' in page
    assert 'id="kinds"' in page
    assert "mismatched" in page
    assert f"corpus {corpus}" in page
    judged = report.inputs["corpus_counts"][0]["judged"]
    assert judged == len(CORPUS)
    assert "<td>hypothesis</td><td class=n>10</td>" in page
    assert "<td>probes</td><td class=n>44</td>" in page
    assert "piece same" in page or "piece ref first" in page


def test_a_bad_html_path_is_one_line_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tokcheck.compare.run

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("compare ran although its HTML path is unusable")

    monkeypatch.setattr(tokcheck.compare.run, "compare", never)
    code = main(["compare", str(MODEL), "--html", str(tmp_path / "missing" / "r.html")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "does not exist" in err
    assert "Traceback" not in err


def _browser() -> str | None:
    return next(
        (b for n in ("chromium", "chromium-browser", "google-chrome") if (b := shutil.which(n))),
        None,
    )


def test_the_report_renders_in_a_headless_browser(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    browser = _browser()
    if browser is None:
        pytest.skip("no chromium, chromium-browser or google-chrome binary on PATH")
    page = tmp_path / "report.html"
    argv = ["compare", str(MODEL), "--corpus", str(corpus), "--examples", "10", "--prompts", "1"]
    assert main([*argv, "--candidate", "default", "--html", str(page)]) == 1
    capsys.readouterr()
    flags = [
        "--headless",
        "--no-sandbox",  # as root in CI, where the sandbox cannot start
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1200,900",
    ]
    url = page.resolve().as_uri()
    run = subprocess.run(
        [browser, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    dom = run.stdout
    assert '<p id="verdict"><span class="verdict failed">failed</span>' in dom
    assert '<table id="kinds">' in dom
    assert "<td><b>default</b>" in dom
    assert '<table id="sources">' in dom
    assert f"corpus {corpus}" in dom
    # A counterexample aligned at its first divergence: both rows, the first differing piece.
    assert 'class="example"' in dom
    assert 'class="align"' in dom
    assert "piece ref first" in dom
    assert "piece cand first" in dom
    shot = tmp_path / "report.png"
    run = subprocess.run(
        [browser, *flags, "--hide-scrollbars", f"--screenshot={shot}", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
