"""The frameworks a run can compare, one module each; everything that lists frameworks reads :data:`FRAMEWORKS`.

To add one: its model in an ``impl_<name>`` package (never importing ``compare``), a module here
that exports one :class:`~compare.registry.framework_info.Framework`, its line in :data:`FRAMEWORKS`,
and its extra in ``pyproject.toml`` (docs/contributing.md). ``tests/test_conformance.py`` then
holds it against numpy's backprop.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from compare.config import RunConfig, Switch
from compare.engine.protocol import MethodEntry
from compare.registry.compile_framework import TORCH_COMPILE
from compare.registry.ddp_framework import DISTRIBUTED
from compare.registry.framework_info import Framework
from compare.registry.jax_framework import JAX
from compare.registry.numpy_framework import NUMPY
from compare.registry.torch_framework import TORCH
from compare.registry.user_framework import USER

# In this order the methods appear in the tables, and the frameworks are timed group by group.
FRAMEWORKS: tuple[Framework, ...] = (NUMPY, TORCH, TORCH_COMPILE, JAX, DISTRIBUTED, USER)


def entries(cfg: RunConfig, devices: Sequence[str], dtypes: Sequence[str] | None = None) -> list[MethodEntry]:
    """Every registered framework's rows that this run asks for (default dtype: the run's ``--dtype``)."""
    dtypes = tuple(dtypes or (cfg.dtype,))
    return [e for fw in FRAMEWORKS if fw.asked(cfg) for e in fw.entries(cfg, devices, dtypes)]


def timed_entries(cfg: RunConfig, devices: Sequence[str], dtypes: Sequence[str]) -> list[MethodEntry]:
    """The rows of the timing tables: those of :func:`entries` that are one call each."""
    return [e for e in entries(cfg, devices, dtypes) if e.timed]


def reserved_labels() -> tuple[str, ...]:
    """Row-label stems of the frameworks' own rows: no plugged-in class may take one as its label."""
    return tuple(label for fw in FRAMEWORKS for label in fw.reserved)


def family_groups() -> dict[str, str]:
    """Method family -> the framework group of its rows (``"autograd+compile"`` -> ``"torch"``)."""
    return {family: fw.group for fw in FRAMEWORKS for family in fw.families}


def model_files() -> dict[str, list[Path]]:
    """Each group's model files, found where its package is (a framework not installed still counts)."""
    import importlib.util

    out: dict[str, list[Path]] = {}
    for fw in FRAMEWORKS:
        spec = importlib.util.find_spec(fw.model_package) if fw.model_package else None
        if spec is None or spec.origin is None:
            continue
        folder = Path(spec.origin).parent
        out.setdefault(fw.group, []).extend(folder / name for name in fw.model_files)
    return out


def switches() -> dict[str, Switch]:
    """Framework name -> its command-line switch, for the optional frameworks in registry order (``--compile``, ...)."""
    return {fw.name: fw.switch for fw in FRAMEWORKS if fw.switch is not None}


def versions() -> dict[str, str]:
    """Framework name -> the installed version of its distribution, for those installed (the report's header)."""
    found = {fw.name: fw.version() for fw in FRAMEWORKS if fw.distribution}
    return {name: v for name, v in found.items() if v is not None}


__all__ = [
    "DISTRIBUTED", "FRAMEWORKS", "JAX", "NUMPY", "TORCH", "TORCH_COMPILE", "USER", "Framework",
    "entries", "family_groups", "model_files", "reserved_labels", "switches", "timed_entries", "versions",
]  # fmt: skip
