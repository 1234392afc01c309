"""MkDocs hook: the CLI reference is generated from tokcheck's own argparse parser.

``docs/reference/cli.md`` holds the marker below; every build replaces it with the top-level
help and each subcommand's ``format_help()``, so the reference cannot drift from the code.
Registered under ``hooks:`` in ``mkdocs.yml``.
"""

from __future__ import annotations

import argparse
import functools
from typing import Any

CLI_MARKER = "<!-- tokcheck-cli-help -->"
# A fixed width, so the page does not depend on the terminal the site is built in.
HELP_WIDTH = 96


def _plain(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The parser with a fixed help width and, where argparse colours help, no colour."""
    parser.formatter_class = functools.partial(argparse.HelpFormatter, width=HELP_WIDTH)
    if hasattr(parser, "color"):
        parser.color = False
    return parser


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def cli_reference() -> str:
    """Markdown for every command: a heading and its help text, in the parser's order."""
    from tokcheck.cli import build_parser

    parser = _plain(build_parser())
    parts = ["## tokcheck", "", "```text", parser.format_help().rstrip(), "```"]
    for name, sub in _subcommands(parser).items():
        help_text = _plain(sub).format_help().rstrip()
        parts += ["", f"## tokcheck {name}", "", "```text", help_text, "```"]
    return "\n".join(parts) + "\n"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace the CLI marker with the generated reference (MkDocs event)."""
    if CLI_MARKER not in markdown:
        return markdown
    return markdown.replace(CLI_MARKER, cli_reference())
