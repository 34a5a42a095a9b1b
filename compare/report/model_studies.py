"""The report's objects beyond the checks: the framework table, the cost-growth study, the numerical step h.

Part of the report's schema (:mod:`compare.report.model`, which imports them from here and holds
the rest): :class:`FrameworkSection` (``compare.sections.frameworks`` computes it),
:class:`ScalingSection` (``compare.sections.scaling``) and :class:`LessonSection`
(``compare.sections.lesson``), one dataclass per object, each field commented.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class FrameworkRow:
    framework: str  # numpy | torch | jax | user
    method: str  # the method's label
    dtype: str
    grad_max_rel: float | None  # largest relative difference from float64 backprop over W1..b2 (null: not compared)
    grad_ok: bool | None  # that comparison passed (null: not compared, or the reference itself)
    gradient_s: float | None  # median time per gradient at the timing section's book shape (null: not timed)
    compile_s: float | None  # compiling that gradient, apart from its time (null: nothing compiled)
    code_lines: int | None  # lines of the framework's model code (null: a user's class)


@dataclass
class FrameworkSection:
    shape: str  # the shape the times are from ("D-H-C xB")
    rows: list[FrameworkRow]  # one per exact method, numerical gradients left out
    code_files: dict[str, list[str]]  # framework -> files counted: non-blank lines, not comments or docstrings


@dataclass(frozen=True)
class ScalingPlan:
    hidden_sizes: tuple[int, ...]  # series "hidden": D-H-C for these H, at input_size
    input_sizes: tuple[int, ...]  # series "input": D-H-C for these D, at hidden_size
    input_size: int = 784  # D held fixed while H varies (the book's MNIST input)
    hidden_size: int = 50  # H held fixed while D varies (the book's hidden size)
    output_size: int = 10  # C, always fixed (the book's ten classes)
    sample: int = 200  # k parameters on which the book's loop is timed
    runs: int | None = None  # timed runs per point (null: the timing defaults)
    fast: bool = True  # include the fast numerical gradient
    torch: bool = True  # include autograd (timed after every numpy point)

    def series(self) -> dict[str, list[tuple[int, int, int]]]:
        """Series name -> its (D, H, C) shapes, in order of growing P."""
        out: dict[str, list[tuple[int, int, int]]] = {}
        if self.hidden_sizes:
            out["hidden"] = [(self.input_size, h, self.output_size) for h in sorted(set(self.hidden_sizes))]
        if self.input_sizes:
            out["input"] = [(d, self.hidden_size, self.output_size) for d in sorted(set(self.input_sizes))]
        return out


@dataclass
class ScalingPoint:
    series: str  # hidden | input
    method: str  # the method's label
    shape: str  # "D-H-C"
    input_size: int
    hidden_size: int
    output_size: int
    batch_size: int
    n_params: int  # P
    forward_passes: int  # full forward passes per gradient: 2P for the book's loop, 1 for the others
    median_s: float
    iqr_s: float
    min_s: float
    samples_s: list[float] = field(default_factory=list, kw_only=True)  # every run's time, as timed (version 2: none)
    noisy: bool
    estimated: bool
    sampled: int


# What a ScalingFit's claim "measured" requires (compare.sections.slopefit.judge_slope).
SLOPE_WIDTH = 0.5  # widest slope range quoted as measured: doubling P's effect then known within 2^±0.25 (±19%)
PLAUSIBLE_SLOPES = (0.3, 3.0)  # no method here grows slower (fixed costs aside) or faster: beyond, the times drifted
MIN_SIZES = 3  # a line passes through any two points: a third size is the least that can show a power law


@dataclass
class ScalingFit:
    series: str
    method: str
    slope: float  # time grows as P ** slope (nan with fewer than two sizes)
    intercept: float  # log(time in s) at P = 1
    r2: float  # fraction of the variance of log(time) the line explains
    n_points: int
    expected: float  # the slope theory predicts
    slope_low: float = math.nan  # lowest slope the run's spread allows (see claim; nan: not judged, older reports)
    slope_high: float = math.nan  # highest slope the run's spread allows
    claim: str = ""  # measured | few-sizes | noisy | scatter | implausible; "": not judged (older reports)


@dataclass
class LossCount:
    shape: str  # the small net counted on
    n_params: int  # its P
    loss_evaluations: int  # loss calls of one book numerical gradient (2P expected)


@dataclass
class ScalingSection:
    form: str  # reduced | full
    plan: ScalingPlan
    batch_size: int
    threads: int
    methods: list[str]  # labels, in column order
    points: list[ScalingPoint]
    fits: list[ScalingFit]
    count: LossCount


@dataclass
class LessonRow:
    dtype: str
    h: float
    max_abs: float  # largest error over the sampled entries
    rel: float  # max_abs / largest gradient entry
    median_abs: float


@dataclass
class LessonSection:
    shape: str
    activation: str
    batch_size: int
    entries: int  # sampled entries differenced per (dtype, h)
    n_params: int
    grad_max: float  # largest |entry| of the exact gradient over the sampled entries
    grad_median: float
    best: dict[str, float]  # dtype -> h with the smallest max_abs
    eps: dict[str, float]  # dtype -> machine epsilon
    rows: list[LessonRow]
    book_h: float  # the run's step h

    def at(self, dtype: str, h: float) -> LessonRow | None:
        """The row of ``dtype`` whose step is ``h`` (to 1e-9 relative), or None."""
        for r in self.rows:
            if r.dtype == dtype and math.isclose(r.h, h, rel_tol=1e-9):
                return r
        return None
