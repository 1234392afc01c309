"""Export on sentencepiece models nobody here trained: ``../shared/models`` (sentencepiece's own
test models) and ``../shared/published-models`` (LLM-jp's 98k Japanese unigram, InternLM's 103k
BPE with a NUL piece, 141 user-defined symbols and 40 pieces its merges never form).

Each must export (exact, or ties only) on the model-derived lines and generated strings, and
``compare OUTDIR --candidate exported`` on the same inputs must reach the same verdict. The
tests skip when ``../shared`` is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tokcheck.cli import main
from tokcheck.export.run import export
from tokcheck.inputs.derived import model_texts
from tokcheck.testing import load
from tokcheck.verdict import CAVEATS, PASSED

SHARED = Path(__file__).resolve().parents[2] / "shared"
MODELS = ("models/sentencepiece_test_model.model", "models/sentencepiece_test_ja_model.model")
PUBLISHED = (
    "published-models/llm-jp-tokenizer-100k.ver3.1.model",
    "published-models/internlm-V7_sft.model",
)
EXAMPLES = 300


@pytest.mark.parametrize("name", [*MODELS, *PUBLISHED])
def test_a_model_others_published_exports_and_compare_agrees(name: str, tmp_path: Path) -> None:
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    resolved, model = load(path)
    out = tmp_path / "out"
    result = export(resolved, model, out, examples=EXAMPLES)
    assert result.written
    assert result.verdict in (PASSED, CAVEATS), result.verdict
    assert result.lines >= len(model_texts(model)) + EXAMPLES
    for tally in result.tallies:
        assert not tally.diverged, (name, tally.summary())
    argv = ["compare", str(out), "--candidate", "exported", "--examples", str(EXAMPLES)]
    assert main(argv) == 0
