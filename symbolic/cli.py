"""The ``symbolic`` command.

    symbolic derive MODEL [--format json|md|tex] [--lang en|zh] [--batch B] [--prompt S] ...
    symbolic presets

Bad input gets one line on stderr, ``symbolic: error: ...``, and exit status 2; nothing is written
to an output file unless the whole document was produced.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from . import __version__
from .conventions import ATTENTION_COUNTS, LM_HEAD_POSITIONS, Conventions, parse_convention
from .derive import Derivation
from .dtypes import DTYPES, Precision
from .errors import SymbolicError
from .load import load
from .presets import get_preset, preset_names
from .render import FORMATS, LANGUAGES, render
from .workload import Workload

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line and exits 2."""

    def error(self, message: str):
        raise SymbolicError(f"{self.prog}: {message}")


def _positive_int(flag: str, minimum: int = 1):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} needs a whole number, got {text!r}") from None
        if value < minimum:
            kind = "positive" if minimum == 1 else f">= {minimum}"
            raise argparse.ArgumentTypeError(f"{flag} must be {kind}, got {value}")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symbolic", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"symbolic {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    derive = commands.add_parser("derive", help="derive every cost of a model")
    derive.add_argument("model", help="a preset name (see `symbolic presets`) or a path to a config.json")
    derive.add_argument("--format", choices=["json", *FORMATS], default="json",
                        help="json (numbers and closed forms), md or tex (a derivation document)")
    derive.add_argument("--lang", choices=LANGUAGES, default="en", help="language of md and tex (en)")
    derive.add_argument("-o", "--output", help="write to this file instead of standard output")
    derive.add_argument("--batch", type=_positive_int("--batch"), default=1, help="sequences B (1)")
    derive.add_argument("--prompt", type=_positive_int("--prompt"), default=None,
                        help="prompt tokens S of the prefill (2048, or half a shorter position table)")
    derive.add_argument("--context", type=_positive_int("--context", 0), default=None,
                        help="tokens c already cached at the decode step (default: the prompt length)")
    dtypes = sorted(DTYPES)
    derive.add_argument("--weight-dtype", default="bf16", help=f"one of {', '.join(dtypes)} (bf16)")
    derive.add_argument("--kv-dtype", default=None, help="KV-cache format (default: as the weights)")
    derive.add_argument("--activation-dtype", default="bf16", help="activation format (bf16)")
    derive.add_argument("--attention-count", choices=ATTENTION_COUNTS, default="causal",
                        help="prefill attention pairs: exact causal S(S+1)/2 or full S^2 (causal)")
    derive.add_argument("--lm-head-positions", choices=LM_HEAD_POSITIONS, default="last",
                        help="positions whose logits a prefill computes (last)")
    derive.add_argument("--convention", action="append", default=[], metavar="NAME=VALUE",
                        help="set a counting convention, e.g. softmax_flops=1 (repeatable)")

    presets = commands.add_parser("presets", help="list the preset models")
    presets.add_argument("--format", choices=["text", "json"], default="text")
    return parser


def _conventions(args) -> Conventions:
    changes = dict(parse_convention(text) for text in args.convention)
    changes.setdefault("attention_count", args.attention_count)
    changes.setdefault("lm_head_positions", args.lm_head_positions)
    return Conventions().replace(**changes)


def _derive(args) -> str:
    model = load(args.model, _conventions(args))
    workload = Workload(batch=args.batch, prompt=args.prompt, context=args.context)
    precision = Precision.of(args.weight_dtype, args.kv_dtype, args.activation_dtype)
    derivation = Derivation(model, workload, precision)
    if args.format == "json":
        return json.dumps(derivation.to_dict(), indent=2) + "\n"
    return render(derivation, args.format, args.lang)


def _presets(args) -> str:
    rows = [get_preset(name) for name in preset_names()]
    if args.format == "json":
        return json.dumps([{"name": p.name, "hf_repo": p.hf_repo, "source": p.source} for p in rows],
                          indent=2) + "\n"
    width = max(len(p.name) for p in rows)
    return "".join(f"{p.name.ljust(width)}  {p.hf_repo}\n" for p in rows)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` all at once: a reader never sees a partial file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    text = {"derive": _derive, "presets": _presets}[args.command](args)
    if getattr(args, "output", None):
        target = Path(args.output)
        if not target.parent.is_dir():
            raise SymbolicError(f"--output: folder {str(target.parent)!r} does not exist")
        write_atomically(target, text)
    else:
        sys.stdout.write(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return run(argv)
    except SymbolicError as exc:
        print(f"symbolic: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
