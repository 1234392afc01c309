"""The command line of the fuzz harness: ``python -m tests.fuzz``.

Runs a batch (``--cases N --jobs J --seed S``) and prints the report, or replays one case in
this process (``--replay SEED:INDEX``) and shows everything it did. The work itself is in the
other modules of ``tests.fuzz``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from . import __doc__ as _HARNESS_DOC
from .cases import FAMILIES, make_case
from .contract import check_contract
from .pool import Result, run_cases
from .report import format_report, group
from .runner import DEFAULT_TIMEOUT_S, run_case


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fuzz",
        description=_HARNESS_DOC.splitlines()[0] if _HARNESS_DOC else None,
    )
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0, help="first case index")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="per case, s")
    parser.add_argument("--out", type=Path, help="write every result and the classes as JSON")
    parser.add_argument(
        "--replay", metavar="SEED:INDEX", help="run one case in this process, show all it did"
    )
    parser.add_argument("--keep", type=Path, help="with --replay: materialise the case here")
    parser.add_argument(
        "--families",
        type=_families,
        default=FAMILIES,
        help=f"comma-separated families to draw from (default all: {','.join(FAMILIES)})",
    )
    args = parser.parse_args(argv)
    if args.replay:
        return _replay(args.replay, args.keep, args.timeout, args.families)
    start = time.monotonic()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="tokcheck-fuzz-") as root:
        indices = range(args.start, args.start + args.cases)
        batch = run_cases(
            args.seed,
            indices,
            Path(root),
            jobs=args.jobs,
            timeout=args.timeout,
            families=args.families,
        )
        for r in batch:
            results.append(r)
            if len(results) % 100 == 0:
                print(f"{len(results)}/{args.cases} cases", file=sys.stderr, flush=True)
    elapsed = time.monotonic() - start
    restricted = args.families != FAMILIES
    print(f"seed {args.seed}, {args.jobs} job(s), families {','.join(args.families)}")
    print(format_report(results, elapsed, args.families if restricted else None))
    if args.out:
        classes = {
            k: {
                "count": c.count,
                "commands": dict(c.commands),
                "detail": c.detail,
                "example": asdict(c.example) if c.example else None,
            }
            for k, c in group(results).items()
        }
        report = {
            "seed": args.seed,
            "families": list(args.families),
            "cases": len(results),
            "elapsed_s": elapsed,
            "classes": classes,
            "results": [asdict(r) for r in results],
        }
        args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 1 if any(r.violations for r in results) else 0


def _families(text: str) -> tuple[str, ...]:
    chosen = tuple(f.strip() for f in text.split(",") if f.strip())
    unknown = [f for f in chosen if f not in FAMILIES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"families are {', '.join(FAMILIES)}")
    return chosen


def _replay(key: str, keep: Path | None, timeout: float, families: tuple[str, ...]) -> int:
    seed, _, index = key.partition(":")
    case = make_case(int(seed), int(index), families)
    print(f"{case.key} {case.command} ({case.size} bytes): {case.description}")
    print(f"argv: tokcheck {' '.join(case.argv)}")
    with tempfile.TemporaryDirectory(prefix="tokcheck-fuzz-") as tmp:
        directory = keep or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        outcome = run_case(case, directory, timeout=timeout)
    print(f"exit {outcome.code} in {outcome.elapsed_s:.2f} s")
    print("--- stdout (first 2000 bytes)")
    print(outcome.stdout[:2000].decode("utf-8", "backslashreplace"))
    print("--- stderr")
    print(outcome.stderr.decode("utf-8", "backslashreplace"))
    if outcome.traceback:
        print("--- escaped exception")
        print(outcome.traceback)
    violations = check_contract(outcome)
    print("--- violations")
    print("\n".join(violations) or "none")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
