"""The ``symbolic`` command.

    symbolic derive MODEL [--format json|md|tex] [--lang en|zh] [--batch B] [--prompt S] ...
    symbolic derive MODEL --hardware h100-sxm --tp 4 --batch 1,8,64 --output 256 --price 2.5
    symbolic check '2*2*nlayers*nheads*dhead' --against kv_cache.bytes_per_token --model llama-3.1-8b
    symbolic check --claims claims.md --format md
    symbolic presets
    symbolic hardware

Bad input gets one line on stderr, ``symbolic: error: ...``, and exit status 2; nothing is written
to an output file unless the whole document was produced.
"""

from __future__ import annotations

import argparse
import contextlib
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
from .exact import to_rational
from .hardware import accelerators, get_accelerator
from .load import load
from .performance import Deployment, Performance, performance_dict
from .presets import get_preset, preset_names
from .render import FORMATS, LANGUAGES, render
from .units import binary_bytes, si
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
    derive.add_argument("-o", "--out-file", dest="out_file",
                        help="write to this file instead of standard output")
    _add_setting_options(derive)

    perf = derive.add_argument_group("performance (with --hardware)")
    perf.add_argument("--hardware", help="an accelerator (see `symbolic hardware`)")
    perf.add_argument("--hardware-file",
                      help="a JSON file of your own accelerators (the format of data/hardware.json)")
    perf.add_argument("--tp", type=_positive_int("--tp"), default=1, help="tensor-parallel degree (1)")
    perf.add_argument("--pp", type=_positive_int("--pp"), default=1, help="pipeline-parallel degree (1)")
    perf.add_argument("--ep", type=_positive_int("--ep"), default=1,
                      help="expert-parallel degree for MoE models (1)")
    perf.add_argument("--output", type=_positive_int("--output"), default=256, dest="generated",
                      help="tokens generated per request, g (256)")
    perf.add_argument("--price", type=_number("--price"), default=None, help="$ per device-hour")
    perf.add_argument("--compute-dtype", default=None,
                      help="dtype of the peak FLOP/s used (default: the activation dtype)")
    perf.add_argument("--mfu", type=_number("--mfu"), default=1, help="share of peak FLOP/s achieved (1)")
    perf.add_argument("--mbu", type=_number("--mbu"), default=1, help="share of peak bandwidth achieved (1)")
    perf.add_argument("--overhead", type=_number("--overhead"), default=0, help="fixed seconds per step (0)")
    perf.add_argument("--link-latency", type=_number("--link-latency"), default=None,
                      help="seconds per collective (5e-6)")
    perf.add_argument("--users", type=_positive_int("--users"), default=None,
                      help="concurrent sequences to serve: replicas and devices needed at max batch")
    perf.add_argument("--memory-fraction", type=_number("--memory-fraction"), default=1,
                      help="usable share of device memory (1)")
    derive.add_argument("--plots", metavar="DIR",
                        help="draw the figures into DIR and show them in md and tex (needs matplotlib)")

    check = commands.add_parser("check", help="check a formula, a stated number or arithmetic")
    check.add_argument("claim", nargs="?", help="'2*2*nlayers*nheads*dhead', '671 MB' or '16/900 = 22.22'")
    check.add_argument("--against", help="the quantity: a key of `symbolic derive`'s JSON")
    check.add_argument("--model", action="append", default=[],
                       help="a preset or config.json (repeatable; default: every preset for a formula)")
    check.add_argument("--let", action="append", default=[], metavar="NAME=FORMULA",
                       help="define your own name, e.g. dmodel=H (repeatable)")
    check.add_argument("--tolerance", default=None,
                       help="relative tolerance: a number within it holds; a formula within it is "
                            "approximately equal (5%%)")
    check.add_argument("--claims", help="a claims file (Markdown table or YAML) to check in one run")
    check.add_argument("--hardware", help="for hardware.* quantities: the accelerator")
    check.add_argument("--hardware-file", help="a JSON file of your own accelerators")
    check.add_argument("--compute-dtype", default="bf16", help="for hardware.peak_flops (bf16)")
    check.add_argument("--format", choices=["text", "json", "md"], default="text")
    check.add_argument("--json", action="store_const", const="json", dest="format",
                       help="same as --format json")
    check.add_argument("-o", "--out-file", dest="out_file", help="write the report to this file")
    _add_setting_options(check)

    plot = commands.add_parser("plot", help="draw one figure")
    plot.add_argument("kind", choices=["roofline", "kv", "throughput", "latency"])
    plot.add_argument("model", help="a preset or config path (for kv: several, comma-separated)")
    plot.add_argument("-o", "--out-file", dest="out_file", required=True, help="the PNG to write")
    _add_setting_options(plot)
    plot.add_argument("--hardware", help="an accelerator (roofline, throughput, latency)")
    plot.add_argument("--hardware-file")
    plot.add_argument("--tp", type=_positive_int("--tp"), default=1)
    plot.add_argument("--pp", type=_positive_int("--pp"), default=1)
    plot.add_argument("--ep", type=_positive_int("--ep"), default=1)
    plot.add_argument("--output", type=_positive_int("--output"), default=256, dest="generated")
    plot.add_argument("--compute-dtype", default=None)
    plot.add_argument("--contexts", default="128..131072*2", help="contexts of the kv figure")

    sweep = commands.add_parser("sweep", help="evaluate the performance model over a grid")
    sweep.add_argument("model", help="one or more presets or config paths, comma-separated")
    sweep.add_argument("--hardware", required=True, help="accelerators, comma-separated")
    sweep.add_argument("--hardware-file", help="a JSON file of your own accelerators")
    sweep.add_argument("--tp", default="1", help="tensor-parallel degrees, e.g. 1,2,4,8 (1)")
    sweep.add_argument("--batch", default="1..64*2", help="batch sizes: 1,8,64 or 1..1024 or 1..1024*2")
    sweep.add_argument("--context", default="128..131072*2", help="decode contexts (128..131072*2)")
    sweep.add_argument("--prompt", default=None, help="prompt lengths for TTFT (default: the context)")
    sweep.add_argument("--output", type=_positive_int("--output"), default=256, dest="generated",
                       help="tokens generated per request, for the memory a request needs (256)")
    sweep.add_argument("--format", choices=["csv", "json"], default="csv")
    sweep.add_argument("-o", "--out-file", dest="out_file", help="write to this file (streamed)")
    sweep.add_argument("--plot", metavar="PNG",
                       help="draw throughput over batch and context, one panel per model, hardware and "
                            "TP (the table is then written only with -o)")
    sweep.add_argument("--weight-dtype", default="bf16", help="weight formats, e.g. bf16,fp8,int4 (bf16)")
    sweep.add_argument("--kv-dtype", default=None, help="KV-cache formats, e.g. bf16,fp8 (as the weights)")
    sweep.add_argument("--activation-dtype", default="bf16")
    sweep.add_argument("--price", default=None,
                       help="USD per device-hour, for the cost column: 2.5 for every accelerator, or "
                            "h100-sxm=2.5,h200=3.5")
    sweep.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="show progress on stderr (the default on a terminal)")

    presets = commands.add_parser("presets", help="list the preset models")
    presets.add_argument("--format", choices=["text", "json"], default="text")

    hardware = commands.add_parser("hardware", help="list the accelerators")
    hardware.add_argument("--format", choices=["text", "json"], default="text")
    hardware.add_argument("--hardware-file", help="add your own accelerators from a JSON file")
    return parser


def _add_setting_options(parser: argparse.ArgumentParser) -> None:
    """The workload, dtypes and conventions that derive and check share."""
    parser.add_argument("--batch", type=_batches, default=[1],
                        help="sequences B, or a list such as 1,8,64 for the performance section (1)")
    parser.add_argument("--prompt", type=_positive_int("--prompt"), default=None,
                        help="prompt tokens S of the prefill (2048, or half a shorter position table)")
    parser.add_argument("--context", type=_positive_int("--context", 0), default=None,
                        help="tokens c already cached at the decode step (default: the prompt length)")
    dtypes = sorted(DTYPES)
    parser.add_argument("--weight-dtype", default="bf16", help=f"one of {', '.join(dtypes)} (bf16)")
    parser.add_argument("--kv-dtype", default=None, help="KV-cache format (default: as the weights)")
    parser.add_argument("--activation-dtype", default="bf16", help="activation format (bf16)")
    parser.add_argument("--attention-count", choices=ATTENTION_COUNTS, default="causal",
                        help="prefill attention pairs: exact causal S(S+1)/2 or full S^2 (causal)")
    parser.add_argument("--lm-head-positions", choices=LM_HEAD_POSITIONS, default="last",
                        help="positions whose logits a prefill computes (last)")
    parser.add_argument("--convention", action="append", default=[], metavar="NAME=VALUE",
                        help="set a counting convention, e.g. softmax_flops=1 (repeatable)")


def _batches(text: str) -> list[int]:
    parse = _positive_int("--batch")
    values = [parse(part) for part in text.split(",") if part.strip()]
    if not values:
        raise argparse.ArgumentTypeError("--batch needs at least one number")
    return values


def _number(flag: str):
    def parse(text: str):
        value = to_rational(text)
        if value is None or value < 0:
            raise argparse.ArgumentTypeError(f"{flag} needs a non-negative number, got {text!r}")
        return value
    return parse


def _conventions(args) -> Conventions:
    changes = dict(parse_convention(text) for text in args.convention)
    changes.setdefault("attention_count", args.attention_count)
    changes.setdefault("lm_head_positions", args.lm_head_positions)
    return Conventions().replace(**changes)


def _deployment(args, precision: Precision) -> Deployment | None:
    if not args.hardware:
        return None
    options = {"link_latency_s": args.link_latency} if args.link_latency is not None else {}
    return Deployment(get_accelerator(args.hardware, args.hardware_file), tp=args.tp, pp=args.pp, ep=args.ep,
                      compute_dtype=args.compute_dtype or precision.activation.name, mfu=args.mfu,
                      mbu=args.mbu, overhead_s=args.overhead, memory_fraction=args.memory_fraction,
                      price_per_hour=args.price, **options)


def _derive(args) -> str:
    if args.plots and args.format != "json":
        from .plots import require_matplotlib

        require_matplotlib()
    model = load(args.model, _conventions(args))
    workload = Workload(batch=args.batch[0], prompt=args.prompt, context=args.context)
    precision = Precision.of(args.weight_dtype, args.kv_dtype, args.activation_dtype)
    derivation = Derivation(model, workload, precision)
    deployment = _deployment(args, precision)
    performance = Performance(derivation, deployment, args.generated) if deployment else None
    if args.format == "json":
        if args.plots:
            raise SymbolicError("--plots: figures go into md or tex documents, not json")
        document = derivation.to_dict()
        if performance is not None:
            document["performance"] = performance_dict(performance, args.batch, args.users)
        return json.dumps(document, indent=2) + "\n"
    if performance is not None:
        performance_dict(performance, args.batch, args.users)  # the same checks as for JSON
    figures = None
    if args.plots:
        from .plots import render_all

        made = render_all(performance, derivation, args.batch, Path(args.plots), model.arch.name)
        base = Path(args.out_file).parent if args.out_file else Path(".")
        figures = {kind: os.path.relpath(path, base) for kind, path in made.items()}
    return render(derivation, args.format, args.lang, performance=performance, batches=args.batch,
                  users=args.users, figures=figures)


def _check(args) -> tuple[str, int]:
    from .check.checker import (
        check_arithmetic,
        check_formula,
        check_hardware_number,
        check_number,
        looks_like_number,
    )
    from .check.claims_file import markdown_report, passes, read_claims, run_claim, tolerance_of
    from .check.parser import parse_formula
    from .check.report import json_report, text_report

    if args.claims:
        specs = read_claims(Path(args.claims))
        checks = [run_claim(spec) for spec in specs]
        failed = any(not passes(spec, check) for spec, check in zip(specs, checks, strict=True))
        if args.format == "json":
            text = json_report(checks, [{"passes": passes(s, c), "expect": s.expect or "holds",
                                         "source": s.source} for s, c in zip(specs, checks, strict=True)])
        elif args.format == "md":
            text = markdown_report(specs, checks, f"Claims in {Path(args.claims).name}")
        else:
            text = text_report(checks)
        return text, 1 if failed else 0
    if not args.claim:
        raise SymbolicError("check needs a CLAIM or --claims FILE")
    lets = {}
    for item in args.let:
        name, sep, formula = item.partition("=")
        if not sep or not name.strip():
            raise SymbolicError(f"--let {item!r} must read NAME=FORMULA")
        lets[name.strip()] = parse_formula(formula, lets)
    tolerance = tolerance_of({"tolerance": args.tolerance}) if args.tolerance else None
    claim = args.claim
    if "=" in claim and not args.against:
        check = check_arithmetic(claim, lets)
    elif args.against and args.against.startswith("hardware."):
        if not args.hardware:
            raise SymbolicError(f"{args.against} needs --hardware")
        check = check_hardware_number(claim, args.against, get_accelerator(args.hardware, args.hardware_file),
                                      args.compute_dtype, tolerance)
    else:
        if not args.against:
            raise SymbolicError("--against QUANTITY is needed for a formula or a number")
        conventions = _conventions(args)
        precision = Precision.of(args.weight_dtype, args.kv_dtype, args.activation_dtype)
        workload = Workload(batch=args.batch[0], prompt=args.prompt, context=args.context)

        def derive(model):
            return Derivation(load(model, conventions), workload, precision)

        if looks_like_number(claim):
            if len(args.model) != 1:
                raise SymbolicError("a stated number is checked against one --model")
            check = check_number(claim, args.against, derive(args.model[0]), tolerance)
        else:
            from .check.checker import derivations_for

            derivations = derivations_for(args.model or None, derive)
            options = {"tolerance": tolerance} if tolerance is not None else {}
            check = check_formula(claim, args.against, derivations, lets=lets, **options)
    text = json_report([check]) if args.format == "json" else text_report([check])
    return text, 0 if check.holds else 1


def _sweep(args) -> int:
    from .sweep import SweepPlan, parse_range, write_sweep

    models = [m.strip() for m in args.model.split(",") if m.strip()]
    for name in models:
        load(name)  # an unknown model fails now, in one line, before any output
    accelerators = [get_accelerator(h.strip(), args.hardware_file) for h in args.hardware.split(",")]
    plan = SweepPlan(
        models=models, accelerators=accelerators, prices=_prices(args.price, accelerators),
        tps=parse_range(args.tp, "--tp"), batches=parse_range(args.batch, "--batch"),
        contexts=parse_range(args.context, "--context"),
        prompts=parse_range(args.prompt, "--prompt") if args.prompt else None,
        generated=args.generated, precisions=_precisions(args))
    plan.check()
    if args.plot:
        from .plots import require_matplotlib

        require_matplotlib()
        _sweep_plot(plan, Path(args.plot))
    if args.out_file:
        target = Path(args.out_file)
        if not target.parent.is_dir():
            raise SymbolicError(f"-o: folder {str(target.parent)!r} does not exist")
        with atomic_output(target) as handle:
            write_sweep(plan, handle, args.format, args.progress)
    elif not args.plot:
        write_sweep(plan, sys.stdout, args.format, args.progress)
    for note in plan.skipped:
        print(f"symbolic: skipped {note}", file=sys.stderr)
    return 0


def _prices(text: str | None, accelerators) -> dict[str, float]:
    """``--price``: one USD-per-device-hour figure for every accelerator, or name=figure pairs."""
    if not text:
        return {}
    names = [a.name for a in accelerators]
    prices: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, _, figure = part.rpartition("=")
        value = to_rational(figure.strip())
        if value is None or value < 0:
            raise SymbolicError(f"--price: cannot read {figure.strip()!r} as USD per device-hour")
        if not name:
            if len(text.split(",")) > 1:
                raise SymbolicError(f"--price: {part!r} needs a name (h100-sxm=2.5) beside other prices")
            return dict.fromkeys(names, float(value))
        if name.strip() not in names:
            raise SymbolicError(f"--price: {name.strip()!r} is not among --hardware ({', '.join(names)})")
        prices[name.strip()] = float(value)
    return prices


def _precisions(args) -> list[Precision]:
    """Every weight dtype with every KV dtype (or its default) of comma-separated lists."""
    weights = [w.strip() for w in args.weight_dtype.split(",") if w.strip()]
    kvs = [k.strip() for k in args.kv_dtype.split(",") if k.strip()] if args.kv_dtype else [None]
    return [Precision.of(w, kv, args.activation_dtype) for w in weights for kv in kvs]


def _sweep_plot(plan, target: Path) -> None:
    from .plots import sweep_map

    if not target.parent.is_dir():
        raise SymbolicError(f"--plot: folder {str(target.parent)!r} does not exist")
    dtypes = len(plan.precisions) > 1
    panels = [(f"{k.model} on {k.tp} x {k.hardware}"
               + (f", {k.precision.weight.name} / KV {k.precision.kv.name}" if dtypes else ""),
               plan.batches, plan.contexts, grid) for k, grid in plan.grids()]
    if not panels:
        raise SymbolicError("--plot: nothing to draw; " + "; ".join(plan.skipped))
    sweep_map(panels, target)


def _plot(args) -> int:
    from . import plots
    from .sweep import parse_range

    plots.require_matplotlib()

    precision = Precision.of(args.weight_dtype, args.kv_dtype, args.activation_dtype)
    target = Path(args.out_file)
    if not target.parent.is_dir():
        raise SymbolicError(f"-o: folder {str(target.parent)!r} does not exist")
    if args.kind == "kv":
        names = [m.strip() for m in args.model.split(",") if m.strip()]
        derivations = [Derivation(load(name, _conventions(args)), Workload(1, args.prompt, None),
                                  precision) for name in names]
        contexts = parse_range(args.contexts, "--contexts")
        if contexts[0] < 1 or len(contexts) > plots.MAX_LINE_POINTS:
            raise SymbolicError(f"--contexts: between 1 and {plots.MAX_LINE_POINTS:,} contexts, each "
                                "at least 1 token (the axes are logarithmic)")
        plots.kv_cache(derivations, contexts, target)
        return 0
    if not args.hardware:
        raise SymbolicError(f"the {args.kind} figure needs --hardware")
    workload = Workload(batch=args.batch[0], prompt=args.prompt, context=args.context)
    derivation = Derivation(load(args.model, _conventions(args)), workload, precision)
    deployment = Deployment(get_accelerator(args.hardware, args.hardware_file), tp=args.tp, pp=args.pp,
                            ep=args.ep, compute_dtype=args.compute_dtype or precision.activation.name)
    perf = Performance(derivation, deployment, args.generated)
    drawer = {"roofline": lambda: plots.roofline(perf, args.batch[0], target),
              "throughput": lambda: plots.throughput(perf, args.batch if len(args.batch) > 1
                                                     else [1, 2, 4, 8, 16, 32, 64, 128, 256], target),
              "latency": lambda: plots.latency(perf, args.batch, target)}[args.kind]
    drawer()
    return 0


def _hardware(args) -> str:
    known = accelerators(args.hardware_file)
    if args.format == "json":
        return json.dumps([{"name": a.name, "label": a.label,
                            "peak_flops": {k: float(v) for k, v in a.peak_flops.items()},
                            "memory_bytes": int(a.memory_bytes),
                            "memory_bandwidth": float(a.memory_bandwidth),
                            "link_bandwidth_per_direction": _optional_float(a.link_bandwidth)}
                           for a in known.values()], indent=2) + "\n"
    rows = [("name", "accelerator", "bf16/fp16 dense", "memory", "bandwidth")]
    for a in known.values():
        peak = a.peak_flops.get("bf16") or a.peak_flops.get("fp16")
        rows.append((a.name, a.label, si(peak, "FLOP/s") if peak else "-", binary_bytes(a.memory_bytes),
                     si(a.memory_bandwidth, "B/s")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n"
                   for row in rows)


def _optional_float(value) -> float | None:
    return None if value is None else float(value)


def _presets(args) -> str:
    rows = [get_preset(name) for name in preset_names()]
    if args.format == "json":
        return json.dumps([{"name": p.name, "hf_repo": p.hf_repo, "source": p.source} for p in rows],
                          indent=2) + "\n"
    width = max(len(p.name) for p in rows)
    return "".join(f"{p.name.ljust(width)}  {p.hf_repo}\n" for p in rows)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` all at once: a reader never sees a partial file."""
    with atomic_output(path) as handle:
        handle.write(text)


@contextlib.contextmanager
def atomic_output(path: Path):
    """A text handle whose contents replace ``path`` when the block ends: a reader never sees a
    partial file and a failure leaves none. The file gets the permissions ``open`` would give it
    (0o666 less the umask), not the 0o600 of the temporary file it was written as."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yield handle
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "sweep":
        return _sweep(args)
    if args.command == "plot":
        return _plot(args)
    if args.command == "check":
        text, status = _check(args)
    else:
        text, status = {"derive": _derive, "presets": _presets, "hardware": _hardware}[args.command](args), 0
    if getattr(args, "out_file", None):
        target = Path(args.out_file)
        if not target.parent.is_dir():
            raise SymbolicError(f"-o: folder {str(target.parent)!r} does not exist")
        write_atomically(target, text)
    else:
        sys.stdout.write(text)
    return status


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
