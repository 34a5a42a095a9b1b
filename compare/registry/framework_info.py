"""What the harness knows of one framework: the object each module of :mod:`compare.registry` exports.

Everything that lists frameworks (the methods of a run, the timing order, the framework table's
model files, the labels a plugged-in class may not take, the versions in the report's header)
reads these objects; nothing else names a framework. A framework's rows are
:class:`~compare.engine.protocol.MethodEntry` objects whose runners follow the one protocol; those
that train step by step subclass :class:`~compare.engine.training.SteppedRunner` (load the shared
weights and the data, take a step on a batch, report loss and accuracy, export the weights) and
so train through the one loop.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Protocol

from compare.config import RunConfig, Switch
from compare.engine.protocol import MethodEntry

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np

    from dlfs_gradcheck.problems import GradProblem

# (the run's configuration, the torch devices of the run, the dtypes asked for) -> the framework's rows
EntryMaker = Callable[[RunConfig, Sequence[str], Sequence[str]], list[MethodEntry]]


def _no_entries(cfg: RunConfig, devices: Sequence[str], dtypes: Sequence[str]) -> list[MethodEntry]:
    return []


def _always(cfg: RunConfig) -> bool:
    return True


@dataclass(frozen=True)
class Framework:
    """One framework: its name, where its model lives, what it needs, and the rows it offers."""

    name: str  # registry key and switch name: "numpy", "torch", "torch.compile", "jax", "distributed", "user"
    title: str  # how people call it: "PyTorch (autograd)", "JAX (jax.grad + jit)"
    group: str  # MethodInfo.framework of its rows: timed group by group, never interleaved ("numpy", "torch", ...)
    reserved: tuple[str, ...] = ()  # row-label stems of its rows, which no plugged-in class may take as its label
    families: tuple[str, ...] = ()  # MethodInfo.family values of its rows (the framework table's grouping)
    modules: tuple[str, ...] = ()  # importable modules it needs (besides the always-installed numpy and torch)
    extra: str | None = None  # the pyproject extra that installs it: pip install ".[extra]"
    distribution: str | None = None  # the installed distribution whose version the report's header shows
    model_package: str | None = None  # the package holding its model ("impl_jax")
    model_files: tuple[str, ...] = ()  # the files of that package the framework table counts lines of
    entries: EntryMaker = _no_entries  # its rows for given dtypes and devices
    in_run: Callable[[RunConfig], bool] = _always  # whether a run with this configuration has its rows (no switch)
    switch: Switch | None = None  # the command-line switch that puts an optional framework's rows in or out
    # The benchmark's training-step section (python -m compare.bench) and the gradient checker's own nets
    # (python -m compare.gradcheck --impl NAME): a framework without these hooks is in neither.
    bench_steps: StepMaker | None = None  # its timed training steps at the shared weights (None: no rows)
    bench_row: str | None = None  # the stem of those rows' names ("torch autograd"), by which the ratios find them
    step_target: float | None = None  # the benchmark's target for its step over numpy's, same dtype (at most)
    checker_problem: ProblemMaker | None = None  # the checker's problem for its own net (None: no --impl name)
    checker_losses: tuple[str, ...] = ("exact",)  # the checker's --loss values its net can be checked with

    def asked(self, cfg: RunConfig) -> bool:
        """Whether the run ``cfg`` has its rows: its switch's state (given or default), else :attr:`in_run`."""
        if self.switch is not None:
            return cfg.switches.get(self.name, self.switch.default)
        return self.in_run(cfg)

    def installed(self) -> bool:
        """Whether every module it needs can be found (without importing any of them)."""
        return all(importlib.util.find_spec(m) is not None for m in self.modules)

    def version(self) -> str | None:
        """The installed version of its distribution (None: none named, or not installed)."""
        if self.distribution is None:
            return None
        try:
            return version(self.distribution)
        except PackageNotFoundError:
            return None

    def not_installed(self) -> str:
        """The one line a row of it says when it is not installed."""
        how = f' (pip install ".[{self.extra}]")' if self.extra else ""  # an extra of its own, if it has one
        return f"{self.distribution or self.name} not installed{how}"


@dataclass(frozen=True)
class BenchStep:
    """One row of the benchmark's step section: one training step (gradient + SGD update) as one timed call.

    ``call`` runs a step at learning rate 0 (every call then does the same work on the same
    weights); ``sync`` waits for the work ``call`` queued (a device's, or a lazy result), None
    when ``call`` returns with the step done. ``compile_s``: seconds spent compiling before the
    first call, shown apart from the step's time.
    """

    name: str  # the row's name: the framework's bench_row, with what it was built with in parentheses if any
    device: str  # "cpu", "cuda", ...
    dtype: str  # "float64" | "float32"
    call: Callable[[], object]
    sync: Callable[[], object] | None = None
    compile_s: float | None = None


class StepMaker(Protocol):
    """A framework's step rows: a net at the shared weights on the batch ``(x, t)`` in each of ``dtypes``.

    ``quick`` is the benchmark's smoke run, where a framework that compiles for seconds offers
    no rows. The rows come in the order the benchmark shows them (in the order of ``dtypes``; where
    the framework has several devices, device by device); a framework not installed offers none.
    """

    def __call__(
        self, params: Mapping[str, np.ndarray], x: np.ndarray, t: np.ndarray, dtypes: Sequence[str], quick: bool
    ) -> list[BenchStep]: ...


class CheckerOptions(Protocol):
    """What a checker problem reads of the checker's options (``compare.gradcheck.command_options.GradcheckConfig``).

    A protocol, not that class: the checker's command imports the registry, not the other way round.
    """

    activation: str  # "sigmoid" | "relu"
    dtype: str  # the dtype of the code under test
    loss: str  # one of the framework's checker_losses
    device: str  # the torch device of the code under test
    reference: str  # "central" | "richardson" | "complex"


class ProblemMaker(Protocol):
    """The checker's problem for a framework's own net at ``params`` on ``(x, t)``, and the label its report gets."""

    def __call__(
        self, params: Mapping[str, np.ndarray], x: np.ndarray, t: np.ndarray, options: CheckerOptions
    ) -> tuple[GradProblem, str]: ...
