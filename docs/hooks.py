"""MkDocs hook: reference pages generated from tokcheck itself, so they cannot drift from it.

Registered under ``hooks:`` in ``mkdocs.yml``. Two markers are replaced on every build:

- ``<!-- tokcheck-cli-help -->`` (docs/reference/cli.md): the top-level help and each
  subcommand's ``format_help()``, from ``tokcheck.parser.build_parser()``;
- ``<!-- tokcheck-profiles -->`` (docs/reference/profiles.md): a table of the built-in
  profiles, from ``tokcheck profiles --json``.
"""

from __future__ import annotations

import argparse
import functools
import html
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

CLI_MARKER = "<!-- tokcheck-cli-help -->"
PROFILES_MARKER = "<!-- tokcheck-profiles -->"
# A fixed width, so the page does not depend on the terminal the site is built in.
HELP_WIDTH = 96
ROOT = Path(__file__).resolve().parents[1]


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


def _help_block(title: str, parser: argparse.ArgumentParser) -> list[str]:
    return [f"### {title}", "", "```text", _plain(parser).format_help().rstrip(), "```", ""]


def cli_reference() -> str:
    """Markdown for every command: a heading and its help text, in the parser's order."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tokcheck.parser import build_parser

    parser = build_parser()
    parts = _help_block("tokcheck", parser)
    for name, sub in _subcommands(parser).items():
        parts += _help_block(f"tokcheck {name}", sub)
    return "\n".join(parts)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return (
            ", ".join(
                json.dumps(v) if isinstance(v, str) and not v.isprintable() else str(v)
                for v in value
            )
            or "-"
        )
    if isinstance(value, int):
        return f"{value:,}"
    return html.escape(str(value), quote=False).replace("|", "\\|")


PROFILE_COLUMNS = (
    ("name", "profile"),
    ("vocab_size", "pieces"),
    ("model_type", "model type"),
    ("byte_fallback", "byte fallback"),
    ("add_dummy_prefix", "dummy prefix"),
    ("remove_extra_whitespaces", "whitespace removal"),
    ("representable", "representable"),
    ("prompt_format", "prompt format"),
    ("architecture", "architecture"),
    ("parameters", "parameters"),
)


def profiles_reference() -> str:
    """A Markdown table of the built-in profiles, read from ``tokcheck profiles --json``."""
    run = subprocess.run(
        [sys.executable, "-m", "tokcheck", "profiles", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    profiles: list[dict[str, Any]] = json.loads(run.stdout)["profiles"]
    rows = [
        "| " + " | ".join(title for _, title in PROFILE_COLUMNS) + " |",
        "| " + " | ".join("---" for _ in PROFILE_COLUMNS) + " |",
    ]
    for p in profiles:
        cells = [f"`{p['name']}`", *(_cell(p.get(key)) for key, _ in PROFILE_COLUMNS[1:])]
        rows.append("| " + " | ".join(cells) + " |")
    rows.append("")
    for p in profiles:
        members = ", ".join(f"`{m}`" for m in p["members"])
        about = html.escape(p["description"], quote=False)
        rows.append(f"- `{p['name']}`: {about}. Card: <{p['source']}>. Members: {members}.")
    return "\n".join(rows) + "\n"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace the markers with the generated references (MkDocs event)."""
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_reference())
    if PROFILES_MARKER in markdown:
        markdown = markdown.replace(PROFILES_MARKER, profiles_reference())
    return markdown
