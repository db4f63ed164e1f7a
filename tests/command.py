"""The command line, run through its entry point in the test's own process.

``symbolic_cli(*args)`` calls :func:`symbolic.cli.main`, the function ``python -m symbolic`` and the
installed ``symbolic`` script run, with stdout and stderr captured, and answers as
``subprocess.run`` would (exit status, stdout, stderr). It saves starting a Python and importing
SymPy for every call; the tests that need a process of their own (another hash seed, a locale,
a memory limit, a missing library) start one."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess

from symbolic.cli import main


def symbolic_cli(*args, cwd=None) -> subprocess.CompletedProcess:
    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(argv)
            except SystemExit as exit:       # argparse's own refusals
                status = exit.code if isinstance(exit.code, int) else 2
    finally:
        os.chdir(previous)
    return subprocess.CompletedProcess(["symbolic", *argv], status, out.getvalue(), err.getvalue())
