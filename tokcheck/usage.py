"""What ``tokcheck --help`` says: the program's description, each command's examples, its
defaults and the exit codes. The CLI (:mod:`tokcheck.cli`) builds its parser with these."""

from __future__ import annotations

import argparse
from typing import Any

# Every command's exit codes.
EXIT_PASSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# The reader of stdout went away: what a shell reports for a process SIGPIPE ended (128 + 13),
# neither a verdict nor bad input.
EXIT_BROKEN_PIPE = 141

DESCRIPTION = (
    "Validate a sentencepiece-based tokenizer against the sentencepiece library on its own\n"
    "model file: every Hugging Face loading path, tokcheck's export and the runtimes people\n"
    "serve with are candidates judged against it. A MODEL is a .model file, a directory in\n"
    "Hugging Face layout, or a hub id."
)
EXIT_CODES = (
    "exit codes: 0 passed (with caveats too, unless --strict), 1 a check failed,\n"
    "2 unusable input or usage (one line on stderr), 128+signal when stopped (130 after\n"
    "Ctrl-C, 143 after SIGTERM)."
)
EXAMPLES = {
    None: [
        "tokcheck gate path/to/tokenizer-dir",
        "tokcheck compare rinna/japanese-gpt-neox-3.6b",
        "tokcheck COMMAND --help",
    ],
    "inspect": ["tokcheck inspect path/to/spiece.model", "tokcheck inspect model.gguf --json"],
    "check": [
        "tokcheck check path/to/tokenizer-dir",
        "tokcheck check path/to/tokenizer-dir --profile rinna/japanese-gpt-neox-3.6b",
    ],
    "profiles": ["tokcheck profiles", "tokcheck profiles --json"],
    "compare": [
        "tokcheck compare path/to/tokenizer-dir",
        "tokcheck compare path/to/tokenizer-dir --corpus data.jsonl.zst --field text --jobs 8",
        "tokcheck compare path/to/tokenizer-dir --candidate exported --gguf model.gguf",
    ],
    "roundtrip": ["tokcheck roundtrip path/to/spiece.model --examples 5000"],
    "smoke": ["tokcheck smoke path/to/model-dir --device cuda", "tokcheck smoke DIR --tiny"],
    "export": [
        "tokcheck export path/to/tokenizer-dir exported/",
        "tokcheck export path/to/tokenizer-dir exported-js/ --target transformers.js",
    ],
    "gate": [
        "tokcheck gate path/to/tokenizer-dir --junit tokcheck.xml",
        "tokcheck gate path/to/tokenizer-dir --corpus data.txt --format github",
    ],
}


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written; every option with a value says its default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        shown = action.default not in (None, False, [], argparse.SUPPRESS)
        if shown and action.option_strings and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


def settings(command: str | None, summary: str | None = None) -> dict[str, Any]:
    """What the parser of ``command`` (None: the program) is built with."""
    examples = "\n".join(f"  {line}" for line in EXAMPLES[command])
    return {
        "description": summary or DESCRIPTION,
        "epilog": f"examples:\n{examples}\n\n{EXIT_CODES}",
        "formatter_class": Formatter,
        **({"help": summary} if command else {}),
    }
