"""The engine profiles shipped in ``data/profiles``: which measurements each is fitted on, and how.

Each engine's profile is ``symbolic calibrate`` on the shipped measurements
(``data/measurements.json``) of that engine, with the parameters below: those every point of the
engine determines, and per accelerator the efficiencies that differ between its accelerators (a
kernel library tuned for one generation reaches another share of the peak on the next). They are
rewritten by ``python docs/generate.py --profiles``; a test refits them and compares.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..outputs.files import dumps
from .calibrate import calibrate, parse_fit, profile_document
from .points import SHIPPED, read_measurements, select

PROFILES_FOLDER = SHIPPED.parent / "profiles"


@dataclass(frozen=True)
class EngineFit:
    """How one shipped profile is fitted: the points (``--select``), the release line they stand
    for, and the parameters."""

    name: str
    selection: tuple[str, ...]
    releases: str
    fit: str
    per_hardware: str = ""

    @property
    def fitted(self):
        return parse_fit(self.fit)

    @property
    def per_hardware_keys(self) -> tuple[str, ...]:
        return tuple(p.key for p in parse_fit(self.per_hardware, "per_hardware")) if self.per_hardware else ()


_TRT_2023 = "engine_version=0.5*|0.6*|v0.5*|v0.6*"
_VLLM_2024 = "engine_version=0.[234]*|v0.[234]*|*~v0.[234]*"
_TRT = "engine=TensorRT-LLM*|TRT-LLM*|TRTLLM*"

ENGINE_FITS = (
    EngineFit("tensorrt-llm", (_TRT, _TRT_2023.replace("=", "!=", 1)),
              "TensorRT-LLM 0.17 to 1.2 (2025)", "mfu,mbu", "mbu"),
    EngineFit("tensorrt-llm-2023", (_TRT, _TRT_2023),
              "TensorRT-LLM 0.5 and 0.6 (2023)", "mfu,kernel_latency", "mfu"),
    EngineFit("vllm", ("engine=vLLM*", _VLLM_2024.replace("=", "!=", 1)),
              "vLLM of 2025", "mfu,mbu,attention_efficiency"),
    EngineFit("vllm-2024", ("engine=vLLM*", _VLLM_2024),
              "vLLM 0.2.7 to 0.4 (early 2024)", "mfu,kernel_latency", "mfu"),
    EngineFit("sglang", ("engine=SGLang*",), "SGLang 0.5 (2025)", "mfu,kernel_latency,padding_rows"),
    EngineFit("llama.cpp", ("engine=llama.cpp*|llama-bench*",), "llama.cpp builds of May 2024",
              "mfu,mbu,kernel_latency", "mfu,mbu"),
)
"""One profile per engine and release line: kernels, CUDA graphs and schedulers change between
releases (vLLM's early-2024 Mixtral runs are about twice as slow per step as its 2025 runs), so one
profile for every release fits none of them. The parameter sets were chosen by leave-one-out error,
and by values a kernel can have, among subsets of mfu, mbu, attention_efficiency, kernel_latency,
padding_rows and overhead (with and without per-accelerator mfu and mbu); the figures are in each
profile's ``fit``."""


def fitted_profile(engine: EngineFit) -> dict:
    """The profile of ``engine``, fitted now on the shipped measurements."""
    import json

    points = select(read_measurements(SHIPPED), list(engine.selection))
    fitted = engine.fitted
    fit = calibrate(points, fitted, per_hardware=engine.per_hardware_keys)
    sources = json.loads(SHIPPED.read_text(encoding="utf-8"))["sources"]
    return profile_document(fit, fitted, engine.name, engines=sorted({p.engine for p in points}),
                            measured_in=SHIPPED.name, selection=list(engine.selection), sources=sources,
                            fixed={}, releases=engine.releases)


def write_profiles(folder: Path = PROFILES_FOLDER) -> list[Path]:
    """Fit and write every shipped profile."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for engine in ENGINE_FITS:
        path = folder / f"{engine.name}.json"
        path.write_text(dumps(fitted_profile(engine), indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written
