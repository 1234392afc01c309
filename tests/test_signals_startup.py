"""Ctrl-C while tokcheck is still starting (importing its modules, a few hundred milliseconds)
is the one line and exit 130 of any other moment, never a KeyboardInterrupt traceback.

The first test makes the interrupt land inside a chosen import, whatever the machine's load: an
import hook sends the process SIGINT as that module starts being imported, and Python runs the
handler right there. The second sends it at delays after tokcheck's first module is in, as a
user (or the fuzz) does. Before tokcheck's first line runs (the interpreter's own start, its
``site``) nothing of tokcheck's can act; there SIGINT ends Python as Python ends on it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
COMPARE = ["compare", str(FIXTURES / "tiny-neox"), "--examples", "5"]
# The module whose import the program's guard follows at once.
STARTUP = "tokcheck.system.startup"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

# Runs the program (its console script, or -m tokcheck) with SIGINT sent to itself as the
# module argv[1] starts being imported: the signal's handler runs inside that import.
_DURING_IMPORT = """
import os, runpy, signal, sys

module, entry = sys.argv[1], sys.argv[2]


class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == module:
            sys.meta_path.remove(self)
            sys.stderr.write(f"importing {name}\\n")
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGINT)
        return None


sys.meta_path.insert(0, Interrupt())
sys.argv = ["tokcheck", *sys.argv[3:]]
if entry == "-m":
    runpy.run_module("tokcheck", run_name="__main__", alter_sys=True)
else:
    runpy.run_path(entry, run_name="__main__")
"""


def _console_script() -> str:
    script = shutil.which("tokcheck", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the tokcheck console script is not installed")
    return script


@pytest.mark.parametrize("entry", ["-m", "console script"])
@pytest.mark.parametrize(
    "module",
    [
        # Imported before the command starts: the interrupt landed in them as a traceback.
        "tokcheck.cli",
        "argparse",
        "multiprocessing",
        "tokcheck.model.proto",
        "tokcheck.report.render",
        # Imported once the command runs: its own handling, as before.
        "sentencepiece",
        "transformers",
    ],
)
def test_ctrl_c_inside_an_import_is_one_line_and_exit_130(module: str, entry: str) -> None:
    program = _console_script() if entry == "console script" else "-m"
    run = subprocess.run(
        [sys.executable, "-c", _DURING_IMPORT, module, program, *COMPARE],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert "Traceback" not in run.stderr
    assert (run.returncode, run.stderr) == (130, f"importing {module}\ntokcheck: interrupted\n")
    assert run.stdout == ""


@pytest.mark.parametrize("delay", [0.02, 0.05, 0.1, 0.2, 0.3])
def test_ctrl_c_early_in_the_run_is_one_line_and_exit_130(delay: float) -> None:
    """The clock starts once :data:`STARTUP` is imported (``-X importtime`` says when), and
    the command's imports follow; before it the interpreter and runpy are still starting."""
    process = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "tokcheck", *COMPARE],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    assert process.stderr is not None
    try:
        while (line := process.stderr.readline()).rpartition("|")[2].strip() != STARTUP:
            assert line, f"the program ended before {STARTUP} was imported"
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    said = [line for line in err.splitlines() if not line.startswith("import time:")]
    assert "Traceback" not in err
    assert (process.returncode, said, out) == (130, ["tokcheck: interrupted"], "")
