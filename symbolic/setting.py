"""A setting: everything a number depends on, read once and built in one place.

A :class:`Setting` holds a model, a workload (batch sizes, prompt, context, tokens generated),
a precision (weight, KV-cache and activation formats), counting conventions and, optionally, a
deployment (accelerator, parallel degrees, efficiencies, price, users to serve). Every entry point
reads it the same way, with the same messages, through :meth:`Setting.from_mapping`:

* the command line (``symbolic derive``, ``plot``, ``sweep``, ``check``), whose options hold the
  raw text and are named ``--tp``, ``--weight-dtype``, ...;
* a claims-file row's ``setting`` column (``prompt=2048 kv_dtype=fp16 tp=4``);
* keyword arguments of :func:`symbolic.derive` and the ``setting`` of ``data/published.json``.

A deployment option given without an accelerator is refused in one line rather than ignored.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import sympy

from .architecture.conventions import Conventions, parse_convention
from .architecture.dtypes import Precision, mixed_weights
from .architecture.spec import StoredWeights
from .architecture.workload import Workload
from .config.hardware import Accelerator, get_accelerator
from .config.load import load
from .config.presets import find_preset
from .errors import SymbolicError
from .exact import to_rational
from .ops.model import Model
from .quantities.derive import Derivation

MAX_TOKENS = 10**12
"""Largest batch, prompt, context, output or user count read: a trillion."""
MAX_DEGREE = 10**6
"""Largest tensor-, pipeline- or expert-parallel degree read."""
MAX_RANGE_VALUES = 10**7
"""Most values one range (``1..1024``) may expand to."""

_RANGE = re.compile(r"^(?P<start>[0-9]+)\.\.(?P<stop>[0-9]+)(?:(?P<op>[*+])(?P<step>[0-9]+))?$")
_INTEGER = re.compile(r"^[0-9]+$")


def parse_count(text, name: str, minimum: int = 1, maximum: int = MAX_TOKENS) -> int:
    """A whole number written in ASCII digits (or given as an int), between the bounds."""
    if isinstance(text, bool):
        raise SymbolicError(f"{name} needs a whole number, got {text!r}")
    if isinstance(text, int):
        value = text
    else:
        raw = str(text).strip()
        if not _INTEGER.match(raw.removeprefix("-")) or len(raw) > 30:
            raise SymbolicError(f"{name} needs a whole number, got {raw[:40]!r}")
        value = int(raw)
    if value < minimum:
        raise SymbolicError(f"{name} must be >= {minimum}, got {value}")
    if value > maximum:
        raise SymbolicError(f"{name} must be at most {maximum:,}"
                            + (f", got {value:,}" if value < 10**40 else ""))
    return value


def parse_range(text, name: str, minimum: int = 0, maximum: int = MAX_TOKENS) -> list[int]:
    """``'1,8,64'``, ``'1..1024'``, ``'128..131072*2'`` (doubling) or ``'0..4096+256'`` (steps) as a
    sorted list of distinct integers; an int or a list of ints is taken as it is."""
    if isinstance(text, (list, tuple)):
        values = [parse_count(v, name, minimum, maximum) for v in text]
    elif isinstance(text, int):
        values = [parse_count(text, name, minimum, maximum)]
    else:
        values = []
        for part in (p.strip() for p in str(text).split(",")):
            if _INTEGER.match(part):
                values.append(parse_count(part, name, minimum, maximum))
                continue
            match = _RANGE.match(part)
            if match is None:
                raise SymbolicError(f"{name}: cannot read {part[:40]!r}; write 1,8,64 or 1..1024 or "
                                    f"128..131072*2 or 0..4096+256")
            start, stop = (parse_count(match[k], name, minimum, maximum) for k in ("start", "stop"))
            op, step = match["op"], parse_count(match["step"] or "1", name, 1, maximum)
            if stop < start or (op == "*" and (step < 2 or start < 1)):
                raise SymbolicError(f"{name}: {part!r} is an empty or endless range")
            if op == "*":
                value = start
                while value <= stop:
                    values.append(value)
                    value *= step
            else:
                if (stop - start) // step + 1 > MAX_RANGE_VALUES:
                    raise SymbolicError(f"{name}: {part!r} has more than {MAX_RANGE_VALUES:,} values")
                values.extend(range(start, stop + 1, step))
    if not values:
        raise SymbolicError(f"{name}: no values")
    return sorted(set(values))


def parse_number(text, name: str, low=0, high=None, low_open: bool = False):
    """An exact non-negative number (``0.5``, ``1e-6``, ``3/4``) within (or at) the bounds."""
    value = to_rational(text) if not isinstance(text, bool) else None
    if value is None or value < low or (low_open and value == low) or (high is not None and value > high):
        where = f"in ({low}, {high}]" if low_open else (f"in [{low}, {high}]" if high is not None
                                                         else "a non-negative number")
        raise SymbolicError(f"{name} must be {where}, got {str(text)[:40]!r}")
    return value


# Fields of a setting: name -> (what reads the value, whether it belongs to a deployment).
_DEPLOYMENT = ("hardware_file", "tp", "pp", "ep", "compute_dtype", "mfu", "mbu", "overhead",
               "link_latency", "kernel_latency", "padding_rows", "attention_efficiency", "dequant_flops",
               "link_efficiency", "memory_fraction", "price", "users", "profile", "engine", "kv_block",
               "kv_reserve", "workspace_tokens", "draft", "speculative_tokens", "acceptance", "concurrency",
               "chunk_tokens")
_READERS = {
    "batch": lambda v, n: tuple(parse_range(v, n, 1)),
    "prompt": lambda v, n: parse_count(v, n, 1),
    "context": lambda v, n: parse_count(v, n, 0),
    "output": lambda v, n: parse_count(v, n, 1),
    "weight_dtype": lambda v, n: _text(v, n),
    "kv_dtype": lambda v, n: _text(v, n),
    "activation_dtype": lambda v, n: _text(v, n),
    "compute_dtype": lambda v, n: _text(v, n),
    "hardware": lambda v, n: _text(v, n),
    "hardware_file": lambda v, n: _text(v, n),
    "tp": lambda v, n: parse_count(v, n, 1, MAX_DEGREE),
    "pp": lambda v, n: parse_count(v, n, 1, MAX_DEGREE),
    "ep": lambda v, n: parse_count(v, n, 1, MAX_DEGREE),
    "mfu": lambda v, n: parse_number(v, n, 0, 1, low_open=True),
    "mbu": lambda v, n: parse_number(v, n, 0, 1, low_open=True),
    "memory_fraction": lambda v, n: parse_number(v, n, 0, 1, low_open=True),
    "overhead": lambda v, n: parse_number(v, n, 0, 3600),
    "link_latency": lambda v, n: parse_number(v, n, 0, 3600),
    "kernel_latency": lambda v, n: parse_number(v, n, 0, 3600),
    "padding_rows": lambda v, n: parse_number(v, n, 0, 10**6),
    "dequant_flops": lambda v, n: parse_number(v, n, 0, 1000),
    "attention_efficiency": lambda v, n: parse_number(v, n, 0, 1, low_open=True),
    "link_efficiency": lambda v, n: parse_number(v, n, 0, 1, low_open=True),
    "price": lambda v, n: parse_number(v, n, 0, 10**9),
    "users": lambda v, n: parse_count(v, n, 1),
    "kv_block": lambda v, n: parse_count(v, n, 1, 10**6),
    "kv_reserve": lambda v, n: parse_count(v, n, 1),
    "workspace_tokens": lambda v, n: parse_count(v, n, 0, 10**9),
    "concurrency": lambda v, n: parse_count(v, n, 1),
    "chunk_tokens": lambda v, n: parse_count(v, n, 1),
    "draft": lambda v, n: _text(v, n),
    "speculative_tokens": lambda v, n: parse_count(v, n, 0, 64),
    "acceptance": lambda v, n: parse_number(v, n, 0, 1),
    "profile": lambda v, n: _text(v, n),
    "engine": lambda v, n: _text(v, n),
}
SETTING_KEYS = tuple(_READERS)
CONVENTION_KEYS = tuple(f.name for f in dataclasses.fields(Conventions))


SHARED_SETTINGS = 256
"""Settings of presets a process remembers with what they built (every preset's derivation and
document together take about 20 MB)."""


@lru_cache(maxsize=SHARED_SETTINGS)
def _shared(setting: Setting) -> Setting:
    """The first of the equal settings this process has read, with its derivation, performance
    and documents already built: a notebook, a claims file or a test suite that asks for the same
    preset in the same setting again derives it once. Only settings of presets are shared: a config
    file or a hardware file could change between two reads."""
    return setting


def _check_profile(fields: dict, flag) -> None:
    """``--profile`` or ``--engine`` (one of them), read now so that a bad one fails first."""
    from .performance.profiles import engine_profile, read_profile

    if fields.get("profile") and fields.get("engine"):
        raise SymbolicError(f"{flag('profile')} and {flag('engine')} both set the efficiencies; give one")
    profile = read_profile(fields["profile"]) if fields.get("profile") else \
        engine_profile(fields["engine"]) if fields.get("engine") else None
    if profile is not None:      # every value it may give, read as the option would be
        from .config.hardware import accelerators

        known = accelerators(fields.get("hardware_file"))
        for name, _ in profile.by_hardware:   # another file's accelerator is unused; a typo is refused
            close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.8)
            if name not in known and close:
                raise SymbolicError(f"{profile.name}: by_hardware names an unknown accelerator {name!r} "
                                    f"(did you mean {close[0]}?)")
        for values in (dict(profile.parameters), *(dict(own) for _, own in profile.by_hardware)):
            for key, value in values.items():
                _READERS[key](value, f"{profile.name}: {key}")


def _text(value, name: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 4096:
        raise SymbolicError(f"{name} needs a name, got {str(value)[:40]!r}")
    return value.strip()


@dataclass(frozen=True)
class Setting:
    """A model with a workload, a precision, conventions and (optionally) a deployment.

    ``batches`` may hold several batch sizes: the performance section answers each; quantities
    that take one batch use the first. Deployment fields left as None take their defaults
    (``tp = 1``, efficiencies 1, no overhead, no kernel latency or padding rows, 5 us per
    collective, all of memory, no price): the ideal roofline."""

    model: object
    batches: tuple[int, ...] = (1,)
    prompt: int | None = None
    context: int | None = None
    output: int = 256
    weight_dtype: str | None = None    # None: as the checkpoint stores them (quantization_config)
    kv_dtype: str | None = None
    activation_dtype: str = "bf16"
    conventions: Conventions = field(default_factory=Conventions)
    hardware: str | Accelerator | None = None
    hardware_file: str | None = None
    tp: int | None = None
    pp: int | None = None
    ep: int | None = None
    compute_dtype: str | None = None
    mfu: sympy.Rational | None = None
    mbu: sympy.Rational | None = None
    overhead: sympy.Rational | None = None
    link_latency: sympy.Rational | None = None
    kernel_latency: sympy.Rational | None = None
    padding_rows: sympy.Rational | None = None
    dequant_flops: sympy.Rational | None = None
    attention_efficiency: sympy.Rational | None = None
    link_efficiency: sympy.Rational | None = None
    memory_fraction: sympy.Rational | None = None
    price: sympy.Rational | None = None
    users: int | None = None
    kv_block: int | None = None        # tokens per KV-cache block (1: the cache grows token by token)
    kv_reserve: int | None = None      # tokens of cache reserved per sequence (its maximum length)
    workspace_tokens: int | None = None  # tokens of the forward whose activations are kept free
    concurrency: int | None = None     # users served in a closed loop with continuous batching
    chunk_tokens: int | None = None    # with it, chunked prefill at this many tokens a step
    draft: str | None = None           # a draft model for speculative decoding, or "mtp"
    speculative_tokens: int | None = None  # tokens drafted per verify step (gamma)
    acceptance: sympy.Rational | None = None  # chance each drafted token is accepted (alpha)
    profile: str | None = None         # a profile file of efficiency parameters
    engine: str | None = None          # a shipped profile of a serving engine

    @classmethod
    def from_mapping(cls, model, values: Mapping, *, flag=lambda key: key,
                     conventions: Conventions | None = None) -> Setting:
        """A setting from ``key -> value`` pairs (text or numbers). Keys are :data:`SETTING_KEYS`
        and convention names; ``flag(key)`` is how a message names a key (``--tp`` on the command
        line, ``tp`` in a claims file). Values of None are left at their defaults."""
        fields: dict = {}
        changes: dict = {}
        for key, raw in values.items():
            if raw is None:
                continue
            if key in _READERS:
                fields["batches" if key == "batch" else key] = _READERS[key](raw, flag(key))
            elif key in CONVENTION_KEYS:
                changes[key] = parse_convention(f"{key}={raw}")[1]
            else:
                close = difflib.get_close_matches(key, (*SETTING_KEYS, *CONVENTION_KEYS), n=2, cutoff=0.6)
                hint = f" (did you mean {' or '.join(map(flag, close))}?)" if close else ""
                raise SymbolicError(f"unknown setting {flag(key)!r}{hint}; known: "
                                    f"{', '.join(map(flag, SETTING_KEYS))}, and the {len(CONVENTION_KEYS)} "
                                    f"counting conventions (`symbolic derive --help`)")
        _check_profile(fields, flag)
        base = conventions or Conventions()
        setting = cls(model, conventions=base.replace(**changes) if changes else base, **fields)
        setting.check(flag)
        return _shared(setting) if setting.of_a_preset else setting

    @property
    def of_a_preset(self) -> bool:
        """Whether everything this setting reads is built in (a preset on a listed accelerator):
        then equal settings build equal things, and one process builds them once (:func:`_shared`)."""
        return (isinstance(self.model, str) and find_preset(self.model) is not None
                and self.hardware_file is None and self.profile is None
                and not isinstance(self.hardware, Accelerator))

    def check(self, flag=lambda key: key) -> None:
        """Refuse what cannot mean anything: deployment options without an accelerator, and
        dtypes that do not exist (named as the caller names them)."""
        if self.hardware is None:
            given = [key for key in _DEPLOYMENT if getattr(self, key) is not None]
            if given:
                raise SymbolicError(f"{flag(given[0])} needs {flag('hardware')}: it describes a deployment")
        # read the dtypes now, so a bad one fails before any work (without loading the model)
        Precision.of(self.weight_dtype or "bf16", self.kv_dtype, self.activation_dtype)

    def replace(self, **changes) -> Setting:
        return dataclasses.replace(self, **changes)

    def with_model(self, model) -> Setting:
        """This setting for ``model``, shared with an equal setting read before (see :func:`_shared`)."""
        setting = self.replace(model=model)
        return _shared(setting) if setting.of_a_preset else setting

    # --- what a setting builds ------------------------------------------------------------

    @cached_property
    def loaded(self) -> Model:
        """The model; with ``--weight-dtype LAYERS+BASE`` its layers' weight matrices are marked as
        stored in LAYERS (as a quantized checkpoint's are), whatever the checkpoint stores."""
        model = load(self.model, self.conventions)
        mixed = mixed_weights(self.weight_dtype) if self.weight_dtype else None
        if mixed is None:
            return model
        stored = StoredWeights(method="--weight-dtype", dtype=mixed[0], base=mixed[1])
        return Model(dataclasses.replace(model.arch, stored_weights=stored), model.conventions)

    @cached_property
    def precision(self) -> Precision:
        """The dtypes as given; weights not given are taken as the checkpoint stores them: its
        quantized tensors in their stored format, the rest in its torch_dtype, and every weight
        in bf16 when nothing is stored quantized. A --weight-dtype given applies to every weight."""
        if self.weight_dtype is not None:
            return Precision.of(self.weight_dtype, self.kv_dtype, self.activation_dtype)
        stored = self.loaded.arch.stored_weights
        return Precision.of(stored.base if stored else "bf16", self.kv_dtype, self.activation_dtype,
                            quantized=stored.dtype if stored else None)

    @property
    def batch(self) -> int:
        return self.batches[0]

    def workload(self, batch: int | None = None) -> Workload:
        return Workload(self.batch if batch is None else batch, self.prompt, self.context)

    @cached_property
    def derivation(self) -> Derivation:
        return Derivation(self.loaded, self.workload(), self.precision)

    @cached_property
    def accelerator(self) -> Accelerator | None:
        if self.hardware is None or isinstance(self.hardware, Accelerator):
            return self.hardware
        return get_accelerator(self.hardware, self.hardware_file)

    @cached_property
    def deployment(self):
        """The :class:`~symbolic.performance.roofline.Deployment`, or None without an accelerator."""
        from .performance.roofline import DEFAULT_LINK_LATENCY, Deployment

        if self.accelerator is None:
            return None
        one, zero = sympy.Integer(1), sympy.Integer(0)
        given = self.efficiencies()
        return Deployment(
            self.accelerator, tp=self.tp or 1, pp=self.pp or 1, ep=self.ep or 1,
            compute_dtype=self.compute_dtype or self.precision.activation.name,
            mfu=given.get("mfu") or one, mbu=given.get("mbu") or one,
            overhead_s=given.get("overhead") or zero,
            link_latency_s=given.get("link_latency", DEFAULT_LINK_LATENCY),
            kernel_latency_s=given.get("kernel_latency") or zero,
            padding_rows=given.get("padding_rows") or zero,
            dequant_flops=given.get("dequant_flops") or zero,
            attention_efficiency=given.get("attention_efficiency") or one,
            link_efficiency=given.get("link_efficiency") or one,
            memory_fraction=self.memory_fraction or one, price_per_hour=self.price,
            kv_block=self.kv_block or 1, kv_reserve=self.kv_reserve,
            workspace_tokens=self.workspace_tokens or 0, efficiency_model=self.efficiency_model)

    def efficiencies(self) -> dict:
        """The efficiency parameters given: each option set, else the profile's value on this
        accelerator (``--profile`` or ``--engine``); the ones neither gives are left out."""
        from .performance.profiles import PROFILE_KEYS

        profile = self._profile()
        from_profile = profile.on(self.accelerator.name if self.accelerator else None) if profile else {}
        values = {}
        for key in PROFILE_KEYS:
            if getattr(self, key) is not None:
                values[key] = getattr(self, key)
            elif key in from_profile:
                values[key] = _READERS[key](from_profile[key], f"{profile.name}: {key}")
        return values

    def _profile(self):
        from .performance.profiles import engine_profile, read_profile

        if self.profile:
            return read_profile(self.profile)
        return engine_profile(self.engine) if self.engine else None

    @property
    def efficiency_model(self) -> str:
        """What the efficiencies are: a profile's label, or the ideal roofline, with the efficiency
        options given beside it ("ideal roofline with --mfu 0.5")."""
        from .performance.profiles import IDEAL, PROFILE_KEYS

        profile = self._profile()
        given = [f"--{key.replace('_', '-')} {float(getattr(self, key)):g}" for key in PROFILE_KEYS
                 if getattr(self, key) is not None]
        return (profile.label if profile else IDEAL) + (" with " + ", ".join(given) if given else "")

    @cached_property
    def performance(self):
        """The :class:`~symbolic.performance.roofline.Performance` of this setting, or None without an
        accelerator."""
        from .performance.roofline import Performance

        if self.deployment is None:
            return None
        return Performance(self.derivation, self.deployment, self.output, self.speculation)

    @cached_property
    def speculation(self):
        """The :class:`~symbolic.performance.speculation.Speculation` the options describe, or None."""
        from .performance.speculation import MTP, Speculation, mtp_architecture

        keys = ("draft", "speculative_tokens", "acceptance")
        given = [key for key in keys if getattr(self, key) is not None]
        if not given:
            return None
        if len(given) < 3:
            missing = next(k for k in keys if k not in given)
            raise SymbolicError(f"speculative decoding needs --draft, --speculative-tokens and --acceptance; "
                                f"--{missing.replace('_', '-')} is missing")
        mtp = self.draft.lower() == MTP
        model = mtp_architecture(self.loaded.arch) if mtp else self.draft
        plain = self.replace(model=model, draft=None, speculative_tokens=None, acceptance=None)
        if mtp and plain.pp and plain.pp > 1:
            plain = plain.replace(pp=None)   # the MTP layer runs on the last stage, after the head
        if plain.ep and plain.ep > 1 and not plain.loaded.arch.has_moe:
            plain = plain.replace(ep=None)   # a dense draft has no experts to spread: each device runs it
        draft = plain.performance
        return Speculation(draft, self.speculative_tokens, self.acceptance, shares_weights=mtp)
