"""The verdict vocabulary every report, output and exit code uses.

- **passed**: everything judged agrees, and nothing was left out.
- **passed with caveats**: nothing judged fails, but something weakens the pass and is named:
  ties (other ids for the same text, scoring the same), lines left unstreamed once the
  streaming budget was spent, corpus records skipped, or no profile applied (``--no-profile``).
  Exit 0; ``--strict`` makes every caveat a failure.
- **failed**: a check, a candidate or a property that was judged fails. Exit 1.
- **error**: the input or the usage is unusable, so nothing was judged. Exit 2, one line on stderr.

This module only names verdicts and words them; the reports decide them.
"""

from __future__ import annotations

from collections.abc import Sequence

PASSED = "passed"
CAVEATS = "passed with caveats"
FAILED = "failed"
ERROR = "error"
VERDICTS = (PASSED, CAVEATS, FAILED, ERROR)


def decide(failed: bool, caveats: Sequence[str], strict: bool = False) -> str:
    """``failed``, else ``passed with caveats`` when there are any (``failed`` under
    ``strict``), else ``passed``."""
    if failed or (strict and caveats):
        return FAILED
    return CAVEATS if caveats else PASSED


def line(verdict: str, detail: str = "") -> str:
    """The last line of a text report: the verdict, what it rests on, and the releases that
    decided it: sentencepiece (the reference; releases break some ties differently) and
    transformers (what a Hugging Face path does depends on it)."""
    from tokcheck.provenance import transformers_release, versions

    said = f"{verdict}: {detail}" if detail else verdict
    return f"{said} (sentencepiece {versions()['sentencepiece']}, transformers {transformers_release()})"
