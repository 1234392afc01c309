"""The ``tokcheck`` program: the console script's entry point, and ``python -m tokcheck``.

Ctrl-C gives one line and exit 130 from the program's first moment: :func:`run` sets that up
(:mod:`tokcheck.system.startup`) before it imports the command, and importing ``tokcheck``
itself imports nothing (see ``tokcheck/__init__.py``), so no import runs before it.
"""

import sys


def run() -> int:
    """Run the command in ``sys.argv`` and return its exit code (see :func:`tokcheck.cli.main`)."""
    from tokcheck.system import startup

    startup.guard()
    from tokcheck.cli import main

    try:
        return main()
    except KeyboardInterrupt:
        # Only in the few instructions between main's own handling and its end.
        sys.stderr.write(startup.LINE.decode())
        return startup.EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(run())
