"""Running the command line on hostile input, as issue 11's contract asks: status 2 with one line
``symbolic: error: ...`` on stderr, or an answer; within a time bound; JSON strictly valid."""

import contextlib
import io
import json
import time
from pathlib import Path

from symbolic.cli import main

SECONDS = 20
"""Every hostile input is answered well within this."""


def run(*args) -> tuple[int, str, str]:
    """``symbolic ARGS`` in this process, timed: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    start = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    assert time.monotonic() - start < SECONDS, args
    return status, out.getvalue(), err.getvalue()


def refused(*args, expected: tuple[str, ...] = ()) -> str:
    """The command fails as issue 11 asks: status 2, nothing on stdout, one short line on stderr
    naming what is at fault (every string of ``expected`` is in it); returns the line."""
    status, out, err = run(*args)
    assert status == 2, (out, err)
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("symbolic: error: "), err
    assert "Traceback" not in err and len(lines[0]) < 600
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def answered(*args, status: int) -> str:
    """The command gives an answer with this exit status, and nothing on stderr; its output."""
    got, out, err = run(*args)
    assert (got, err) == (status, ""), err
    return out


def strict_json(text: str):
    """JSON that strict readers accept: no NaN or Infinity."""
    def constant(token):
        raise AssertionError(f"{token} in JSON output")

    document = json.loads(text, parse_constant=constant)
    json.dumps(document, allow_nan=False)
    return document


def write_input(folder: Path, name: str, content) -> Path:
    """A file a user names: bytes as they are, text as it is, anything else as JSON."""
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path
