"""Reading files a user names: bounded in size, strict UTF-8, strict JSON.

Every file the command line reads on a user's word (a config.json, a hardware file, a claims file)
goes through :func:`read_text`, and JSON through :func:`parse_json`, so that a hostile or broken
file gets one line naming it instead of a traceback, a hang or an unbounded read:

* at most ``MAX_BYTES`` are read (``/dev/zero`` or a multi-gigabyte file is refused, not read);
* the bytes must be UTF-8;
* JSON may nest at most ``MAX_DEPTH`` deep, holds no ``NaN`` or ``Infinity``, no float that
  overflows to infinity, and no integer of more than ``MAX_DIGITS`` digits (Python's own limit for
  turning text into an int is 4,300 digits);
* a number written as text (``"989e12"``, ``"3/8"``) is read by :func:`number`, which refuses
  texts longer than ``MAX_DIGITS`` characters or with an exponent of more than ``MAX_EXPONENT_DIGITS``
  digits (``"1e999999999"`` would otherwise take minutes to make exact);
* a value quoted back in an error message is cut to ``MAX_SHOWN`` characters (:func:`shown`);
* the fields of a parsed object are read through :class:`Fields`, which checks each one's type and
  names it (``memory.value``) when it is wrong.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import sympy

from ..errors import SymbolicError
from ..exact import to_rational, unreadable

MAX_BYTES = 16 * 2**20
MAX_DEPTH = 64
MAX_DIGITS = 100
MAX_EXPONENT_DIGITS = 3
MAX_SHOWN = 60


def read_text(path: str | Path, what: str = "file") -> str:
    """The text of ``path``, refused in one line if it cannot be read, is larger than
    ``MAX_BYTES`` or is not UTF-8."""
    path = Path(path)
    try:
        folder = path.is_dir()
        if not folder:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_BYTES + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = getattr(exc, "strerror", None) or str(exc)
        raise SymbolicError(f"{shown_path(path)}: cannot read the {what}: {reason}") from None
    if folder:
        raise SymbolicError(f"{shown_path(path)}: is a folder, not a {what}")
    if len(raw) > MAX_BYTES:
        raise SymbolicError(f"{shown_path(path)}: the {what} is larger than {MAX_BYTES // 2**20} MiB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SymbolicError(f"{shown_path(path)}: the {what} is not UTF-8 text (byte {exc.start})") from None


def parse_json(text: str, where: str):
    """``text`` parsed as strict JSON, or one line naming ``where`` and what is wrong."""

    def integer(token: str) -> int:
        digits = len(token.lstrip("-"))
        if digits > MAX_DIGITS:
            raise _Refused(f"an integer of {digits} digits (at most {MAX_DIGITS})")
        return int(token)

    def real(token: str) -> float:
        value = float(token)
        if value in (float("inf"), float("-inf")):
            raise _Refused(f"the number {token[:40]} overflows a float")
        return value

    def constant(token: str):
        raise _Refused(f"{token} is not a JSON number")

    try:
        data = json.loads(text, parse_int=integer, parse_float=real, parse_constant=constant)
    except _Refused as exc:
        raise SymbolicError(f"{where}: not valid JSON: {exc}") from None
    except json.JSONDecodeError as exc:
        raise SymbolicError(f"{where}: not valid JSON: {exc.msg} at line {exc.lineno}, "
                            f"column {exc.colno}") from None
    except RecursionError:
        raise SymbolicError(f"{where}: not valid JSON: nested more than {MAX_DEPTH} deep") from None
    if _depth(data) > MAX_DEPTH:
        raise SymbolicError(f"{where}: not valid JSON: nested more than {MAX_DEPTH} deep")
    return data


def read_json(path: str | Path, what: str = "file"):
    """:func:`read_text` then :func:`parse_json`."""
    return parse_json(read_text(path, what), shown_path(Path(path)))


def number(value: object) -> sympy.Rational | None:
    """The exact number a value of a user's file stands for (see :func:`symbolic.exact.to_rational`),
    or None if it is not one or is text too long to read safely (see the module's docstring)."""
    if isinstance(value, str) and unreadable(value.strip(), MAX_DIGITS, MAX_EXPONENT_DIGITS):
        return None
    return to_rational(value)


def shown(value: object) -> str:
    """``repr(value)`` for an error message, cut to ``MAX_SHOWN`` characters (a 16 MiB string or a
    deep list in a bad file must not become a 16 MiB message)."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's 4,300-digit limit, perhaps inside a list
        text = f"a {type(value).__name__} too large to show"
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN - 3]}..."


_MISSING = object()


class Fields:
    """Typed access to a JSON object of a user's file: every failure is one line that names the
    field (``rope_scaling.factor`` for a field of a nested object) and quotes the value, cut short."""

    error: type[SymbolicError] = SymbolicError
    noun = "field"

    def __init__(self, data: dict, where: str, prefix: str = ""):
        self.data = data
        self.where = where
        self.prefix = prefix

    def fail(self, message: str) -> SymbolicError:
        return self.error(f"{self.where}: {message}")

    def field(self, name: str) -> str:
        """How messages name the field ``name``."""
        return f"{self.noun} '{self.prefix}{name}'"

    def present(self, *names: str) -> str | None:
        """The first of ``names`` present with a non-null value."""
        return next((nm for nm in names if self.data.get(nm) is not None), None)

    def missing(self, name: str) -> SymbolicError:
        return self.fail(f"{self.field(name)} is missing")

    def flag(self, name: str, default: bool) -> bool:
        value = self.data.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(f"{self.field(name)} must be true or false, got {shown(value)}")
        return value

    def text(self, *names: str, default: str | None) -> str | None:
        name = self.present(*names)
        if name is None:
            return default
        value = self.data[name]
        if not isinstance(value, str):
            raise self.fail(f"{self.field(name)} must be a string, got {shown(value)}")
        return value

    def real(self, name: str, accept, wanted: str, default=_MISSING):
        """The exact number in field ``name`` if ``accept`` takes it (``wanted`` says what it takes),
        or ``default`` when the field is absent (an error when no default is given)."""
        value = self.data.get(name)
        if value is None:
            if default is _MISSING:
                raise self.missing(name)
            return default
        exact = number(value)
        if exact is None or not accept(exact):
            raise self.fail(f"{self.field(name)} must be {wanted}, got {shown(value)}")
        return exact

    def section(self, name: str, required: bool = False):
        """A reader of the nested object in field ``name``, or None when the field is absent."""
        value = self.data.get(name)
        if value is None:
            if required:
                raise self.missing(name)
            return None
        if not isinstance(value, dict):
            raise self.fail(f"{self.field(name)} must be an object, got {shown(value)}")
        return type(self)(value, self.where, f"{self.prefix}{name}.")


class _Refused(ValueError):
    pass


def _depth(data) -> int:
    """How deep lists and objects nest in ``data`` (without recursion)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def shown_path(path: Path) -> str:
    """A path as an error message shows it: long names cut in the middle."""
    text = os.fsdecode(path)
    return text if len(text) <= 120 else f"{text[:60]}...{text[-50:]}"
