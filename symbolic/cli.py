"""The ``symbolic`` command.

    symbolic derive MODEL [--format json|md|tex] [--lang en|zh] [--batch B] [--prompt S] ...
    symbolic derive MODEL --hardware h100-sxm --tp 4 --batch 1,8,64 --output 256 --price 2.5
    symbolic check '2*2*nlayers*nheads*dhead' --against kv_cache.bytes_per_token --model llama-3.1-8b
    symbolic check --claims claims.md --format md
    symbolic plot roofline MODEL --hardware h100-sxm -o roofline.png
    symbolic sweep MODELS --hardware h100-sxm,h200 --tp 1,2,4 --batch 1..1024 -o sweep.csv
    symbolic validate points.json --format md
    symbolic presets
    symbolic hardware

Every option of a setting (workload, dtypes, conventions, deployment) is defined once here and read
once, by :meth:`symbolic.setting.Setting.from_mapping`, for every command that takes it. Bad input
gets one line on stderr, ``symbolic: error: ...``, and exit status 2; nothing is written to an
output file unless the whole output was produced.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from . import __version__
from .architecture.conventions import ATTENTION_COUNTS, LM_HEAD_POSITIONS, Conventions, parse_convention
from .architecture.dtypes import DTYPES
from .config.hardware import get_accelerator
from .config.presets import get_preset, preset_names
from .errors import SymbolicError
from .outputs.files import atomic_output, check_target, dumps, write_atomically
from .outputs.render import FORMATS, LANGUAGES, render
from .setting import MAX_DEGREE, Setting, parse_number, parse_range

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line and exits 2."""

    def error(self, message: str):
        command = self.prog.removeprefix("symbolic").strip()
        raise SymbolicError(f"{command}: {message}" if command else message)


# --- the options of a setting, defined once ---------------------------------------------------

def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _add_workload(parser, *, lists: bool = False) -> None:
    parser.add_argument("--batch", help="sequences B: 1, a list 1,8,64 or a range 1..1024*2 "
                        + ("(1..64*2)" if lists else "(1); several batches are each answered"))
    parser.add_argument("--prompt", help="prompt tokens S of the prefill (2048, or half a shorter "
                        "position table)" + ("; a list or range" if lists else ""))
    parser.add_argument("--context", help="tokens c already cached at the decode step (the prompt length)"
                        + ("; a list or range (128..131072*2)" if lists else ""))


def _add_precision(parser, *, lists: bool = False) -> None:
    dtypes = ", ".join(sorted(DTYPES))
    several = "; comma-separated for several" if lists else ""
    parser.add_argument("--weight-dtype", help=f"one of {dtypes} (bf16){several}")
    parser.add_argument("--kv-dtype", help="KV-cache format (as the weights when they are fp32, fp16 or "
                        f"bf16; else as the activations){several}")
    parser.add_argument("--activation-dtype", help="activation format (bf16)")


def _add_conventions(parser) -> None:
    parser.add_argument("--attention-count", choices=ATTENTION_COUNTS,
                        help="prefill attention pairs: exact causal S(S+1)/2 or full S^2 (causal)")
    parser.add_argument("--lm-head-positions", choices=LM_HEAD_POSITIONS,
                        help="positions whose logits a prefill computes (last)")
    parser.add_argument("--convention", action="append", default=[], metavar="NAME=VALUE",
                        help="set a counting convention, e.g. softmax_flops=1 (repeatable)")


def _add_efficiency(group) -> None:
    """The efficiency parameters of the step time (the defaults are the ideal roofline)."""
    group.add_argument("--engine", help="efficiencies of a serving engine, fitted on public measurements "
                       "(see `symbolic engines`); options given beside it win")
    group.add_argument("--profile", help="efficiencies from a profile file (`symbolic calibrate -o`)")
    group.add_argument("--mfu", help="share of peak FLOP/s achieved, eta_f (1)")
    group.add_argument("--mbu", help="share of peak memory bandwidth achieved, eta_m (1)")
    group.add_argument("--overhead", help="fixed seconds per step, t_o (0)")
    group.add_argument("--link-latency", help="seconds per collective, t_link (5e-6)")
    group.add_argument("--kernel-latency", help="fixed seconds per kernel launch, t_kern (0)")
    group.add_argument("--padding-rows", help="rows a matmul computes beyond its tokens, m_pad (0)")
    group.add_argument("--attention-efficiency", help="share of the roofline attention kernels achieve, "
                       "eta_a (1)")
    group.add_argument("--link-efficiency", help="share of the link bandwidth achieved, eta_l (1)")
    group.add_argument("--dequant-flops", help="work of expanding weight-only-quantized weights per matmul "
                       "FLOP, c_dq (0)")


def _add_measurement_options(parser) -> None:
    parser.add_argument("--select", action="append", default=[], metavar="KEY=PATTERN",
                        help="only the points whose KEY matches (engine=vLLM, hardware=h100*|h200, "
                        "engine_version!=0.5; repeatable)")
    parser.add_argument("--hardware-file", help="a JSON file of your own accelerators")
    parser.add_argument("--memory-fraction", help="usable share of device memory (1)")


def _add_deployment(parser, *, lists: bool = False, users: bool = True) -> None:
    group = parser.add_argument_group("deployment")
    if not lists:
        group.add_argument("--hardware", help="an accelerator (see `symbolic hardware`)")
    group.add_argument("--hardware-file", help="a JSON file of your own accelerators (as data/hardware.json)")
    group.add_argument("--tp", help="tensor-parallel degree (1)" + ("; a list: 1,2,4,8" if lists else ""))
    group.add_argument("--pp", help="pipeline-parallel degree (1)")
    group.add_argument("--ep", help="expert-parallel degree for MoE models (1)")
    group.add_argument("--output", help="tokens generated per request, g (256)")
    group.add_argument("--compute-dtype", help="dtype of the peak FLOP/s used (the activation dtype)")
    _add_efficiency(group)
    group.add_argument("--memory-fraction", help="usable share of device memory (1)")
    group.add_argument("--kv-block", help="tokens per KV-cache block: a sequence holds whole blocks "
                       "(1; vLLM: 16)")
    group.add_argument("--kv-reserve", help="tokens of KV cache reserved per sequence, its maximum length "
                       "(none: as it grows)")
    group.add_argument("--workspace-tokens", help="tokens of the forward whose activations memory keeps free "
                       "(0; vLLM: max_num_batched_tokens)")
    if users:   # derive alone: its request times are speculation-aware, the figures and sweeps not yet
        group.add_argument("--crossover-dtype", help="weight dtypes to compare with: the batch at which "
                           "these weights stop paying against each (int8:0.25,bf16: a dtype, and its "
                           "--dequant-flops after a colon)")
        group.add_argument("--chunk-tokens", help="with --concurrency: chunked prefill, at most this many "
                           "tokens a step (vLLM's max_num_batched_tokens)")
        group.add_argument("--concurrency", help="users served in a closed loop with continuous batching: "
                           "TTFT, TPOT and throughput at that load")
        group.add_argument("--draft", help="speculative decoding: a draft model (preset or config), or mtp "
                           "(the model's own multi-token-prediction layer)")
        group.add_argument("--speculative-tokens", help="tokens the draft proposes per verify step, gamma")
        group.add_argument("--acceptance", help="chance each drafted token is accepted, alpha in [0, 1]")
    if users:
        group.add_argument("--price", help="USD per device-hour, for the cost per million tokens")
        group.add_argument("--users", help="concurrent sequences to serve: replicas and devices at max batch")


SCALAR_KEYS = ("batch", "prompt", "context", "weight_dtype", "kv_dtype", "activation_dtype", "hardware",
               "hardware_file", "tp", "pp", "ep", "output", "compute_dtype", "mfu", "mbu", "overhead",
               "link_latency", "kernel_latency", "padding_rows", "attention_efficiency", "link_efficiency",
               "dequant_flops",
               "memory_fraction", "price", "users", "attention_count", "lm_head_positions", "profile",
               "engine", "kv_block", "kv_reserve", "workspace_tokens", "draft", "speculative_tokens",
               "acceptance", "concurrency", "chunk_tokens")


def setting_from_args(args, model, **overrides) -> Setting:
    """The setting the command line describes for ``model``; ``overrides`` replace options (the
    sweep's axes)."""
    values = {key: getattr(args, key) for key in SCALAR_KEYS if getattr(args, key, None) is not None}
    values.update(overrides)
    changes = dict(parse_convention(text) for text in getattr(args, "convention", []))
    return Setting.from_mapping(model, values, flag=_flag, conventions=Conventions().replace(**changes))


# --- the parser ---------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symbolic", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"symbolic {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    derive = commands.add_parser("derive", help="derive every cost of a model")
    derive.add_argument("model", help="a preset name (see `symbolic presets`) or a path to a config.json")
    derive.add_argument("--format", choices=["json", *FORMATS], default="json",
                        help="json (numbers and closed forms), md or tex (a derivation document)")
    derive.add_argument("--lang", choices=LANGUAGES, default="en", help="language of md and tex (en)")
    derive.add_argument("-o", "--out-file", dest="out_file", help="write to this file, not standard output")
    derive.add_argument("--plots", metavar="DIR",
                        help="draw the figures into DIR and show them in md and tex (needs matplotlib)")
    _add_workload(derive)
    _add_precision(derive)
    _add_conventions(derive)
    _add_deployment(derive)

    check = commands.add_parser("check", help="check a formula, a stated number or arithmetic")
    check.add_argument("claim", nargs="?", help="'2*2*nlayers*nheads*dhead', '671 MB' or '16/900 = 22.22'")
    check.add_argument("--claim", dest="claim_text", help=argparse.SUPPRESS)
    check.add_argument("--against", help="the quantity: a key of `symbolic derive`'s JSON")
    check.add_argument("--model", action="append", default=[],
                       help="a preset or config.json (repeatable; default: every preset for a formula)")
    check.add_argument("--let", action="append", default=[], metavar="NAME=FORMULA",
                       help="define your own name, e.g. dmodel=H (repeatable)")
    check.add_argument("--tolerance", default=None,
                       help="relative tolerance: a number within it holds; a formula within it is "
                            "approximately equal (5%%)")
    check.add_argument("--neglect", metavar="TERMS",
                       help="terms a formula may leave out and still be approximate, beside norms and "
                            "elementwise FLOPs: attention, embedding, lm_head, state (none: not even those)")
    check.add_argument("--notation", default="default",
                       help="read one-letter names as a source writes them: scaling-book (K KV heads, "
                            "N query heads, H head dim, D width, F MLP width, T length), megatron (l, h, a, "
                            "s), kipply")
    check.add_argument("--claims", help="a claims file (Markdown table, YAML or JSON) to check in one run")
    check.add_argument("--hardware", help="for hardware.* quantities: the accelerator")
    check.add_argument("--hardware-file", help="a JSON file of your own accelerators")
    check.add_argument("--compute-dtype", help="for hardware.peak_flops (bf16)")
    check.add_argument("--output", help="for time.request.*: tokens generated per request, g (256)")
    check.add_argument("--tp", help="for per_device.* and time.* quantities: tensor-parallel degree (1)")
    check.add_argument("--pp", help="for per_device.* and time.* quantities: pipeline-parallel degree (1)")
    check.add_argument("--ep", help="for per_device.* and time.* quantities: expert-parallel degree (1)")
    check.add_argument("--format", choices=["text", "json", "md"], default="text")
    check.add_argument("--json", action="store_const", const="json", dest="format",
                       help="same as --format json")
    check.add_argument("-o", "--out-file", dest="out_file", help="write the report to this file")
    _add_workload(check)
    _add_precision(check)
    _add_conventions(check)

    plot = commands.add_parser("plot", help="draw one figure")
    plot.add_argument("kind", choices=["roofline", "kv", "throughput", "latency"])
    plot.add_argument("model", help="a preset or config path (for kv: several, comma-separated)")
    plot.add_argument("-o", "--out-file", dest="out_file", required=True, help="the PNG to write")
    plot.add_argument("--contexts", default="128..131072*2", help="contexts of the kv figure")
    _add_workload(plot)
    _add_precision(plot)
    _add_conventions(plot)
    _add_deployment(plot, users=False)

    sweep = commands.add_parser("sweep", help="evaluate the performance model over a grid")
    sweep.add_argument("model", help="one or more presets or config paths, comma-separated")
    sweep.add_argument("--hardware", required=True, help="accelerators, comma-separated")
    sweep.add_argument("--format", choices=["csv", "json"], default="csv")
    sweep.add_argument("-o", "--out-file", dest="out_file", help="write to this file (streamed)")
    sweep.add_argument("--plot", metavar="PNG",
                       help="draw throughput over batch and context, one panel per model, hardware and "
                            "TP (the table is then written only with -o)")
    sweep.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="show progress on stderr (the default on a terminal)")
    _add_workload(sweep, lists=True)
    _add_precision(sweep, lists=True)
    _add_conventions(sweep)
    _add_deployment(sweep, lists=True, users=False)
    sweep.add_argument("--price", help="USD per device-hour, for the cost column: 2.5 for every "
                       "accelerator, or h100-sxm=2.5,h200=3.5")

    validate = commands.add_parser("validate", help="predict every point of a measurements file and "
                                   "report the errors")
    validate.add_argument("file", nargs="?", help="a measurements file (JSON, in the form of points.json); "
                          "without one, the published measurements shipped with symbolic")
    validate.add_argument("--format", choices=["md", "json"], default="md")
    validate.add_argument("-o", "--out-file", dest="out_file", help="write the report to this file")
    _add_measurement_options(validate)
    _add_efficiency(validate.add_argument_group("efficiency (applied to every point; --engine auto: "
                                                "each point's own engine)"))
    _add_conventions(validate)

    calibrate = commands.add_parser("calibrate", help="fit the efficiency parameters to a measurements "
                                    "file and write them as a profile")
    calibrate.add_argument("file", nargs="?", help="a measurements file (JSON, in the form of points.json); "
                           "without one, the published measurements shipped with symbolic")
    calibrate.add_argument("-o", "--out-file", dest="out_file",
                           help="write the profile (JSON) to this file and a report to standard output")
    calibrate.add_argument("--fit", help="parameters to fit, comma-separated (mfu,mbu,attention_efficiency,"
                           "kernel_latency,padding_rows,overhead); known also: link_efficiency,link_latency")
    calibrate.add_argument("--per-hardware", help="fitted parameters that take a value of their own on "
                           "each accelerator, comma-separated (e.g. mfu,mbu)")
    calibrate.add_argument("--name", help="the profile's name (the file's stem)")
    calibrate.add_argument("--no-leave-one-out", dest="leave_one_out", action="store_false",
                           help="skip the leave-one-out errors (one fit per point)")
    _add_measurement_options(calibrate)
    _add_efficiency(calibrate.add_argument_group("efficiency held fixed (not fitted)"))
    _add_conventions(calibrate)

    engines = commands.add_parser("engines", help="list the shipped engine profiles and their errors")
    engines.add_argument("--format", choices=["text", "json"], default="text")

    presets = commands.add_parser("presets", help="list the preset models")
    presets.add_argument("--format", choices=["text", "json"], default="text")

    hardware = commands.add_parser("hardware", help="list the accelerators, each figure with its source")
    hardware.add_argument("--format", choices=["text", "json"], default="text")
    hardware.add_argument("--hardware-file", help="add your own accelerators from a JSON file")
    return parser


# --- the commands -------------------------------------------------------------------------------

def _derive(args) -> str:
    if args.out_file is not None:
        check_target(args.out_file)
    if args.plots:
        if args.format == "json":
            raise SymbolicError("--plots: figures go into md or tex documents, not json")
        from .outputs.plots import require_matplotlib

        require_matplotlib()
        check_target(args.plots, "--plots", folder=True)
    setting = setting_from_args(args, args.model)
    if setting.concurrency and args.format != "json":
        raise SymbolicError("--concurrency is reported in the JSON (--format json)")
    if setting.chunk_tokens and not setting.concurrency:
        raise SymbolicError("--chunk-tokens is the budget of serving at a --concurrency; give both")
    if args.crossover_dtype and args.format != "json":
        raise SymbolicError("--crossover-dtype is reported in the JSON (--format json)")
    crossovers = _crossovers(args, setting)
    derivation, performance = setting.derivation, setting.performance
    if args.format == "json":
        document = derivation.to_dict()
        if performance is not None:
            from .performance.roofline import performance_dict

            document["performance"] = performance_dict(performance, list(setting.batches), setting.users,
                                                       crossovers)
            if setting.concurrency:
                from .performance.serving import serving_dict

                document["performance"]["serving"] = serving_dict(performance, setting.concurrency,
                                                                  setting.chunk_tokens)
        return dumps(document, indent=2) + "\n"
    if performance is not None:
        from .performance.roofline import performance_dict

        performance_dict(performance, list(setting.batches), setting.users)  # the same checks as JSON
    command = "symbolic " + shlex.join(args.argv)      # the footer reproduces the whole command
    if not args.plots:
        return render(derivation, args.format, args.lang, performance=performance,
                      batches=list(setting.batches), users=setting.users, command=command)
    from .outputs.plots import render_all

    made = render_all(performance, derivation, list(setting.batches), Path(args.plots),
                      setting.loaded.arch.name)
    base = Path(args.out_file).parent if args.out_file else Path(".")
    try:
        return render(derivation, args.format, args.lang, performance=performance,
                      batches=list(setting.batches), users=setting.users,
                      figures={kind: os.path.relpath(path, base) for kind, path in made.items()},
                      command=command)
    except BaseException:
        for path in made.values():     # no figures left behind by a document that failed
            path.unlink(missing_ok=True)
        raise


def _crossovers(args, setting: Setting) -> dict | None:
    """``--crossover-dtype int8,bf16``: the same setting with each of those weight dtypes."""
    if not getattr(args, "crossover_dtype", None):
        return None
    if setting.performance is None:
        raise SymbolicError("--crossover-dtype needs --hardware")
    others = {}
    for item in (d.strip() for d in args.crossover_dtype.split(",") if d.strip()):
        name, _, cost = item.partition(":")
        changes = {"weight_dtype": name.strip()}
        if cost:
            changes["dequant_flops"] = parse_number(cost.strip(), f"--crossover-dtype {item}", 0, 1000)
        others[item] = setting.replace(**changes).performance
    if not others:
        raise SymbolicError("--crossover-dtype needs at least one dtype")
    return others


def _check(args) -> tuple[str, int]:
    """``symbolic check``: a claims file, or one claim (arithmetic, a formula or a number)."""
    from .check.report import json_report, text_report

    if args.out_file is not None:
        check_target(args.out_file)
    claim = args.claim if args.claim is not None else args.claim_text
    if args.claims:
        if claim:
            raise SymbolicError("check takes a CLAIM or --claims FILE, not both")
        return _check_claims_file(args)
    if not claim:
        raise SymbolicError("check needs a CLAIM or --claims FILE")
    if args.format == "md":
        raise SymbolicError("--format md is for a claims file (--claims); use text or json")
    check = _check_claim(args, claim)
    text = json_report([check]) if args.format == "json" else text_report([check])
    return text, 0 if check.holds else 1


def _check_claims_file(args) -> tuple[str, int]:
    from .check.claims_file import markdown_report, passes, read_claims, run_claim
    from .check.report import json_report, text_report

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


def _lets(args) -> dict:
    """The ``--let NAME=FORMULA`` definitions, each parsed with the ones before it."""
    from .check.parser import parse_formula

    lets = {}
    for item in args.let:
        name, sep, formula = item.partition("=")
        if not sep or not name.strip():
            raise SymbolicError(f"--let {item!r} must read NAME=FORMULA")
        lets[name.strip()] = parse_formula(formula, lets)
    return lets


def _check_claim(args, claim: str):
    """One claim: arithmetic (``a = b``), a hardware figure, a stated number or a formula."""
    from .check.checker import check_claim, parse_neglect
    from .check.claims_file import tolerance_of
    from .check.mutations import NEGLIGIBLE_BY_DEFAULT

    lets = _lets(args)
    tolerance = tolerance_of({"tolerance": args.tolerance}) if args.tolerance else None
    neglect = parse_neglect(args.neglect) if args.neglect is not None else NEGLIGIBLE_BY_DEFAULT
    hardware_quantity = bool(args.against and args.against.startswith(("hardware.", "time.")))
    if (args.hardware or args.hardware_file or args.compute_dtype) and not hardware_quantity:
        raise SymbolicError("--hardware, --hardware-file and --compute-dtype are for hardware.* and time.* "
                            "quantities (--against hardware.peak_flops)")
    if hardware_quantity and not args.hardware:
        raise SymbolicError(f"{args.against} needs --hardware")
    if args.output is not None and not (args.against or "").startswith("time.request."):
        raise SymbolicError("--output is for time.request.* quantities (--against time.request.decode)")
    devices = {f"--{name}": getattr(args, name) for name in ("tp", "pp", "ep")}
    without = argparse.Namespace(**{**vars(args), "tp": None, "pp": None, "ep": None})
    return check_claim(claim, args.against or "", setting_from_args(without, None), args.model,
                       lets=lets, tolerance=tolerance, neglect=neglect,
                       devices=devices, notation=args.notation)


def _sweep(args) -> int:
    from .architecture.dtypes import Precision
    from .performance.sweep import SweepPlan, parse_prices, write_sweep

    models = [m.strip() for m in args.model.split(",") if m.strip()]
    if not models:
        raise SymbolicError("sweep needs at least one model")
    accelerators = [get_accelerator(h.strip(), args.hardware_file) for h in args.hardware.split(",")
                    if h.strip()]
    if not accelerators:
        raise SymbolicError("--hardware needs at least one accelerator")
    weights = [w.strip() for w in args.weight_dtype.split(",") if w.strip()] if args.weight_dtype else [None]
    kvs = [k.strip() for k in args.kv_dtype.split(",") if k.strip()] if args.kv_dtype else [None]
    if not weights or not kvs:
        raise SymbolicError(f"{'--weight-dtype' if not weights else '--kv-dtype'} needs at least one dtype")
    for w in weights:
        for kv in kvs:   # an unknown dtype fails before any work
            Precision.of(w or "bf16", kv, args.activation_dtype or "bf16")
    dtypes = [(w, kv) for w in weights for kv in kvs]
    base = setting_from_args(args, models[0], hardware=accelerators[0].name, tp=None, batch=None,
                             prompt=None, context=None, weight_dtype=None, kv_dtype=None, price=None)
    plan = SweepPlan(
        base=base, models=models, accelerators=accelerators, prices=parse_prices(args.price, accelerators),
        tps=parse_range(args.tp or "1", "--tp", 1, MAX_DEGREE),
        batches=parse_range(args.batch or "1..64*2", "--batch", 1),
        contexts=parse_range(args.context or "128..131072*2", "--context", 0),
        prompts=parse_range(args.prompt, "--prompt", 1) if args.prompt else None,
        dtypes=dtypes)
    plan.check()
    for name in models:
        base.replace(model=name).loaded  # noqa: B018 - an unknown model fails now, before any output
    if args.out_file:
        check_target(args.out_file)
    if args.plot:
        from .outputs.plots import require_matplotlib

        require_matplotlib()
        from .outputs.plots import image_target

        _sweep_plot(plan, image_target(args.plot, "--plot"))
    if args.out_file:
        with atomic_output(Path(args.out_file)) as handle:
            _swept(write_sweep(plan, handle, args.format, args.progress), plan)
    elif not args.plot:
        _swept(write_sweep(plan, sys.stdout, args.format, args.progress), plan)
    for note in plan.skipped:
        print(f"symbolic: skipped {note}", file=sys.stderr)
    return 0


def _swept(points: int, plan) -> None:
    """A sweep that wrote nothing fails (inside the output's block, so no file is left)."""
    if points == 0:
        raise SymbolicError("nothing to sweep: every setting was skipped ("
                            + "; ".join(plan.skipped)[:400] + ")")


def _sweep_plot(plan, target: Path) -> None:
    from .outputs.plots import sweep_map

    dtypes = len(plan.dtypes) > 1
    panels = [(f"{k.model} on {k.tp} x {k.hardware}"
               + (f", {k.precision.weight_label} / KV {k.precision.kv.name}" if dtypes else ""),
               plan.batches, plan.contexts, grid) for k, grid in plan.grids()]
    if not panels:
        raise SymbolicError("--plot: nothing to draw; " + "; ".join(plan.skipped)[:400])
    sweep_map(panels, target)


def _plot(args) -> int:
    from .outputs import plots

    plots.require_matplotlib()
    target = plots.image_target(args.out_file)
    if args.kind == "kv":
        if args.hardware:
            raise SymbolicError("the kv figure does not use a deployment; leave out --hardware")
        names = [m.strip() for m in args.model.split(",") if m.strip()]
        if not names:
            raise SymbolicError("the kv figure needs at least one model")
        derivations = [setting_from_args(args, name).derivation for name in names]
        contexts = parse_range(args.contexts, "--contexts", 1)
        if len(contexts) > plots.MAX_LINE_POINTS:
            raise SymbolicError(f"--contexts: at most {plots.MAX_LINE_POINTS:,} contexts")
        plots.kv_cache(derivations, contexts, target)
        return 0
    if not args.hardware:
        raise SymbolicError(f"the {args.kind} figure needs --hardware")
    setting = setting_from_args(args, args.model)
    perf = setting.performance
    perf.check_weights_fit()
    batches = list(setting.batches)
    if len(batches) > plots.MAX_LINE_POINTS:
        raise SymbolicError(f"--batch: at most {plots.MAX_LINE_POINTS:,} batch sizes in a figure")
    drawer = {"roofline": lambda: plots.roofline(perf, batches[0], target),
              "throughput": lambda: plots.throughput(perf, batches if len(batches) > 1
                                                     else [1, 2, 4, 8, 16, 32, 64, 128, 256], target),
              "latency": lambda: plots.latency(perf, batches, target)}[args.kind]
    drawer()
    return 0


VALIDATE_KEYS = ("hardware_file", "profile", "engine", "mfu", "mbu", "overhead", "link_latency",
                 "kernel_latency", "padding_rows", "attention_efficiency", "link_efficiency", "dequant_flops",
                 "memory_fraction", "attention_count", "lm_head_positions")


def _measurement_options(args) -> dict:
    """The setting options a validation or calibration applies to every point, checked first."""
    options = {key: getattr(args, key) for key in VALIDATE_KEYS if getattr(args, key, None) is not None}
    for text in args.convention:
        name, value = parse_convention(text)
        options[name] = value
    if options.get("engine") == "auto" and options.get("profile"):
        raise SymbolicError("--engine auto and --profile both set the efficiencies; give one")
    checked = {k: v for k, v in options.items() if not (k == "engine" and v == "auto")}
    Setting.from_mapping(None, {"hardware": "none", **checked}, flag=_flag)
    return options


def _validate(args) -> str:
    """``symbolic validate FILE``: every point predicted, with the statistics."""
    from .measurements.points import read_measurements, select
    from .measurements.validate import AUTO, json_report, markdown_report, validate

    if args.out_file is not None:
        check_target(args.out_file)
    options = _measurement_options(args)
    points = read_measurements(_measurements_file(args))
    points = select(points, args.select) if args.select else points
    label = ("each point's own engine profile" if options.get("engine") == AUTO
             else Setting.from_mapping(None, {"hardware": "none", **options}).efficiency_model)
    result = validate(points, options, label=label)
    if args.format == "json":
        return json_report(result)
    return markdown_report(result, f"Validation of {Path(_measurements_file(args)).name}")


def _calibrate(args) -> str:
    """``symbolic calibrate FILE -o profile.json``: the fitted profile (and a report with -o)."""
    from .measurements.calibrate import calibrate, fit_report, parse_fit, profile_document
    from .measurements.points import read_measurements, select

    if args.out_file is not None:
        check_target(args.out_file)
    fitted = parse_fit(args.fit)
    options = _measurement_options(args)
    if options.get("engine") == "auto":
        raise SymbolicError("--engine auto is for validate; calibrate fits one profile")
    points = read_measurements(_measurements_file(args))
    chosen = select(points, args.select) if args.select else points
    per_hardware = (tuple(p.key for p in parse_fit(args.per_hardware, "--per-hardware"))
                    if args.per_hardware is not None else ())
    fit = calibrate(chosen, fitted, options, per_hardware=per_hardware, leave_one_out=args.leave_one_out)
    name = args.name or (Path(args.out_file).stem if args.out_file else "calibrated")
    sources = _sources_of(_measurements_file(args))
    engines = sorted({p.engine for p in fit.points if p.engine})
    fixed = {k: str(v) for k, v in options.items() if k in EFFICIENCY_KEYS}
    if options.get("profile") or options.get("engine"):     # what the profile held fixed goes with it
        from .performance.profiles import engine_profile, read_profile

        base = (read_profile(options["profile"]) if options.get("profile")
                else engine_profile(options["engine"]))
        fixed = {**{k: v for k, v in base.parameters if k not in {p.key for p in fitted}}, **fixed}
    profile = profile_document(fit, fitted, name, engines=engines,
                               measured_in=Path(_measurements_file(args)).name,
                               selection=list(args.select), sources=sources, fixed=fixed)
    text = dumps(profile, indent=2) + "\n"
    if args.out_file is None:
        return text
    write_atomically(Path(args.out_file), text)
    return fit_report(profile)


def _measurements_file(args) -> str:
    """The file named, or the published measurements shipped with symbolic."""
    from .measurements.points import SHIPPED

    return args.file if args.file else str(SHIPPED)


def _sources_of(path: str) -> dict:
    import json

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data.get("sources", {}) if isinstance(data, dict) and isinstance(data.get("sources"), dict) else {}


EFFICIENCY_KEYS = ("mfu", "mbu", "overhead", "link_latency", "kernel_latency", "padding_rows",
                   "dequant_flops", "attention_efficiency", "link_efficiency")


def _engines(args) -> str:
    """The shipped profiles: name, parameters and errors (from the profile files)."""
    import json
    from importlib import resources

    from .performance.profiles import engine_names

    listing = []
    for name in engine_names():
        stored = resources.files("symbolic") / "data" / "profiles" / f"{name}.json"
        data = json.loads(stored.read_text("utf-8"))
        listing.append({"name": name, "label": data.get("label"), "engines": data.get("engines", []),
                        "parameters": data["parameters"], "fit": data.get("fit", {})})
    if args.format == "json":
        return dumps(listing, indent=2) + "\n"
    rows = []
    for entry in listing:
        loo = entry["fit"].get("leave_one_out", {})
        error = f"{100 * loo['median_abs_error']:.1f}% leave-one-out" if loo.get("median_abs_error") else ""
        parameters = ", ".join(f"{k}={v}" for k, v in entry["parameters"].items())
        rows.append(f"{entry['name']}: {entry['label']}; {error}\n    {parameters}\n")
    return "".join(rows) or "no engine profiles\n"


def _hardware(args) -> str:
    from .config.hardware import accelerators, hardware_listing

    return hardware_listing(accelerators(args.hardware_file), args.format)


def _presets(args) -> str:
    rows = [get_preset(name) for name in preset_names()]
    if args.format == "json":
        listing = [{"name": p.name, "hf_repo": p.hf_repo, "source": p.source} for p in rows]
        return dumps(listing, indent=2) + "\n"
    width = max(len(p.name) for p in rows)
    return "".join(f"{p.name.ljust(width)}  {p.hf_repo}\n" for p in rows)


def _formula_first(argv: list[str]) -> list[str]:
    """``symbolic check -2*L + H ...``: a claim that begins with a minus sign is a formula, not an
    option; it is passed as ``--claim=...`` so that no ``--`` is needed."""
    if not argv or argv[0] != "check":
        return argv
    options = {s for action in build_parser()._subparsers._group_actions[0].choices["check"]._actions
               for s in action.option_strings}
    out = [argv[0]]
    previous_takes_value = False
    for index, token in enumerate(argv[1:], start=1):
        if token == "--":                     # after it everything is positional already
            return out + argv[index:]
        name = token.split("=", 1)[0]
        if (not previous_takes_value and token.startswith("-") and len(token) > 1 and name not in options
                and not token.startswith("--")):
            out.append(f"--claim={token}")
        else:
            out.append(token)
        previous_takes_value = name in options and "=" not in token and name not in ("--json", "-h", "--help")
    return out


def run(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(_formula_first(argv))
    args.argv = argv
    if args.command == "sweep":
        return _sweep(args)
    if args.command == "plot":
        return _plot(args)
    if args.command == "check":
        text, status = _check(args)
    else:
        commands = {"derive": _derive, "presets": _presets, "hardware": _hardware, "validate": _validate,
                    "calibrate": _calibrate, "engines": _engines}
        text, status = commands[args.command](args), 0
    if getattr(args, "out_file", None) is not None and args.command != "calibrate":
        write_atomically(Path(args.out_file), text)
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
