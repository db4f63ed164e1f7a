"""Writing what a command produces: all or nothing, and strict JSON.

* :func:`atomic_output` writes a file through a temporary one beside it and renames it into place
  when the block ends, so a reader never sees a partial file and a failure leaves none;
  :func:`check_target` refuses an output path that cannot be written before any work is done.
* :func:`dumps` writes strict JSON (RFC 8259): a float that is not finite, which Python's ``json``
  would write as the invalid ``Infinity`` or ``NaN``, is written in words, ``"unbounded"``
  (``"-unbounded"``) or ``"undefined"``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path

from ..errors import SymbolicError

MAX_NAME_BYTES = 255
"""Longest file name (one path component) the common file systems take."""


def check_target(path: str | Path, flag: str = "-o", folder: bool = False) -> Path:
    """``path`` if a file (or, with ``folder``, a folder) can be written there; else one line naming
    ``flag`` and the reason."""
    text = os.fspath(path)
    if not text.strip():
        raise SymbolicError(f"{flag} needs a file name (use no {flag} to write to standard output)")
    target = Path(text)
    shown = text if len(text) <= 120 else f"{text[:60]}...{text[-50:]}"
    if any(len(os.fsencode(part)) > MAX_NAME_BYTES for part in target.parts):
        raise SymbolicError(f"{flag} {shown!r}: a file name longer than {MAX_NAME_BYTES} bytes")
    parent = target.parent
    if folder:
        if target.exists() and not target.is_dir():
            raise SymbolicError(f"{flag} {shown!r} is a file, not a folder")
        parent = target if target.is_dir() else target.parent
    elif target.is_dir():
        raise SymbolicError(f"{flag} {shown!r} is a folder; name a file")
    if not parent.is_dir():
        raise SymbolicError(f"{flag}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SymbolicError(f"{flag}: folder {str(parent)!r} is not writable")
    return target


@contextlib.contextmanager
def atomic_output(path: Path, flag: str = "-o"):
    """A text handle whose contents replace ``path`` when the block ends. The file gets the
    permissions ``open`` would give it (0o666 less the umask), not the 0o600 of the temporary file
    it was written as."""
    path = check_target(path, flag)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:200]}.", dir=path.parent)
    except OSError as exc:
        raise SymbolicError(f"{flag} {str(path)!r}: cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yield handle
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise SymbolicError(f"{flag} {str(path)!r}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomically(path: Path, text: str, flag: str = "-o") -> None:
    """Write ``text`` to ``path`` all at once (see :func:`atomic_output`)."""
    with atomic_output(path, flag) as handle:
        handle.write(text)


def finite(value):
    """``value`` with every float that is not finite replaced by words (see the module)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "undefined" if math.isnan(value) else ("unbounded" if value > 0 else "-unbounded")
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def dumps(value, **options) -> str:
    """Strict JSON text of ``value``; never ``NaN`` or ``Infinity``."""
    return json.dumps(finite(value), allow_nan=False, **options)
