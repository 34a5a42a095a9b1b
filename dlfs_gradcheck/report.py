"""What a gradient check found: per-parameter results, a text table and a JSON-ready dict.

The table (``GradcheckReport.table()``, lines of at most 100 columns) is also the
message of the ``AssertionError`` raised by :func:`dlfs_gradcheck.assert_gradients`
and the ``gradcheck`` pytest fixture: per parameter a summary row, then the worst
entries (largest multiple of the allowed error first) with the analytic value, the
numerical value, the plain relative error, their ratio and "× allowed", then notes
and the diagnoses of :func:`dlfs_gradcheck.diagnose.diagnose`.
``to_dict()`` holds only str, int, float, bool, None, lists and dicts; NaN and
infinities become ``None`` so that ``json.dumps(..., allow_nan=False)`` works.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field

import numpy as np

from dlfs_gradcheck.diagnose import Diagnosis, factor_text
from dlfs_gradcheck.metrics import Tolerance, rel_error

WIDTH = 100  # the table's lines fit this many columns (a pytest failure, a CI log)


@dataclass(frozen=True)
class EntryResult:
    """One entry of one parameter: the gradient under test against the reference."""

    param: str  # parameter name
    index: tuple[int, ...]  # index into the parameter (numpy order)
    analytic: float  # the gradient under test (grad_fn)
    numerical: float  # the float64 reference derivative
    abs_err: float  # |analytic - numerical|
    allowed: float  # the largest |analytic - numerical| that passes for this entry
    status: str  # "mismatch", "kink" (straddles a non-differentiable point: not a failure) or "ok"

    @property
    def rel_err(self) -> float:
        """Plain relative error ``|analytic - numerical| / max(|analytic|, |numerical|)`` (0 when both are 0)."""
        return float(rel_error(self.analytic, self.numerical))

    @property
    def ratio(self) -> float:
        """``analytic / numerical`` (inf when only the numerical value is 0, nan when both are)."""
        if self.numerical != 0:
            return self.analytic / self.numerical
        return math.nan if self.analytic == 0 else math.copysign(math.inf, self.analytic)

    @property
    def times_allowed(self) -> float:
        """How many times the allowed error this entry's error is (> 1 fails)."""
        return self.abs_err / self.allowed if self.allowed > 0 else (0.0 if self.abs_err == 0 else math.inf)

    def to_dict(self) -> dict[str, object]:
        return {
            "index": list(self.index),
            "analytic": _finite(self.analytic),
            "numerical": _finite(self.numerical),
            "abs_err": _finite(self.abs_err),
            "rel_err": _finite(self.rel_err),
            "ratio": _finite(self.ratio),
            "allowed": _finite(self.allowed),
            "times_allowed": _finite(self.times_allowed),
            "status": self.status,
        }


@dataclass(frozen=True)
class DirectionSummary:
    """Fast mode: the directional checks of one parameter block."""

    count: int  # signed Gaussian directions tried
    failed: int  # directions whose |analytic - reference| exceeded tau (and not explained by a kink)
    kinks: int  # directions whose base step straddled a kink (never failures)
    unverified: int  # of those, directions no smaller step could verify (left out of catch_norm)
    max_ratio: float  # largest |analytic - reference| / tau over the conclusive directions (<= 1 passes)
    tau: float  # largest tolerance tau used for a whole-block direction
    catch_norm: float  # an error e with ||e * max(1, |x|)||_2 >= catch_norm is missed with probability <= 1e-6

    def to_dict(self) -> dict[str, object]:
        return {
            "count": self.count,
            "failed": self.failed,
            "kinks": self.kinks,
            "unverified": self.unverified,
            "max_ratio": _finite(self.max_ratio),
            "tau": _finite(self.tau),
            "catch_norm": _finite(self.catch_norm),
        }


@dataclass
class ParamResult:
    """The check of one parameter."""

    name: str
    shape: tuple[int, ...]
    size: int  # entries in the parameter
    checked: int  # entries compared one by one (full mode: all or a sample; fast mode: those narrowed down to)
    sampled: bool  # full mode checked a seeded sample, not every entry
    mismatches: int  # entries over the tolerance (fast mode: those found while narrowing down)
    kinks: int  # entries (fast mode: directions, plus entries met while narrowing) straddling a kink; never failures
    max_abs: float  # largest |analytic - numerical| over the compared entries that are not kinks
    max_rel: float  # largest relative error over the same entries
    ok: bool
    worst: list[EntryResult] = field(default_factory=list)  # the worst non-kink entries, worst first
    kink_entries: list[EntryResult] = field(default_factory=list)  # a few kink entries, for the record
    directions: DirectionSummary | None = None  # fast mode only
    note: str = ""  # anything the numbers do not say
    complete: bool = True  # fast mode: narrowing ran to the end, so `mismatches` is every offender it could find
    resolution: float = 0.0  # the reference's rounding error for one entry's derivative (loss size / step)
    magnitude: float = 0.0  # the largest derivative compared (analytic or reference), entry units
    compared: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)
    # ^ (analytic, reference) of the entries compared one by one: the whole arrays in full mode, else 1-D

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "size": self.size,
            "checked": self.checked,
            "sampled": self.sampled,
            "mismatches": self.mismatches,
            "mismatches_complete": self.complete,
            "kinks": self.kinks,
            "max_abs": _finite(self.max_abs),
            "max_rel": _finite(self.max_rel),
            "ok": self.ok,
            "worst": [e.to_dict() for e in self.worst],
            "kink_entries": [e.to_dict() for e in self.kink_entries],
            "directions": None if self.directions is None else self.directions.to_dict(),
            "note": self.note,
            "resolution": _finite(self.resolution),
            "magnitude": _finite(self.magnitude),
        }


@dataclass
class GradcheckReport:
    """Everything :func:`dlfs_gradcheck.check_gradients` found; ``ok`` is the verdict."""

    mode: str  # "full" or "fast"
    reference: str  # "central", "richardson" or "complex"
    step: float  # base step h (each entry's step is h * max(1, |x|))
    dtype: str  # dtype of the code under test; the reference is always float64
    seed: int  # seeds the fast-mode directions and the full-mode samples
    loss: float  # the loss at the point (float64)
    tolerance: Tolerance  # per-entry tolerance (dlfs_gradcheck.metrics definition)
    params: list[ParamResult]
    n_loss_evals: int  # calls to loss_fn
    seconds: float  # wall-clock time of the check
    label: str = ""  # what was checked, for the table's title
    diagnoses: list[Diagnosis] = field(default_factory=list)  # dlfs_gradcheck.diagnose on the failing parameters
    noise: float = 0.0  # measured rounding noise of one loss value near the point (0: not measured)
    notes: list[str] = field(default_factory=list)  # what is known of the code under test (what probing found)

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.params)

    @property
    def failed(self) -> list[str]:
        return [p.name for p in self.params if not p.ok]

    def __getitem__(self, name: str) -> ParamResult:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def max_rel(self) -> float:
        """The largest relative error over all entries compared one by one (kinks left out)."""
        return max((p.max_rel for p in self.params), default=0.0)

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "label": self.label,
            "mode": self.mode,
            "reference": self.reference,
            "step": self.step,
            "dtype": self.dtype,
            "seed": self.seed,
            "loss": _finite(self.loss),
            "rtol": self.tolerance.rtol,
            "atol": self.tolerance.atol,
            "n_loss_evals": self.n_loss_evals,
            "seconds": self.seconds,
            "params": [p.to_dict() for p in self.params],
            "diagnoses": [d.to_dict() for d in self.diagnoses],
            "loss_noise": _finite(self.noise),
            "notes": list(self.notes),
        }

    def title(self) -> str:
        """Two lines: what was checked and the verdict; then how (reference, dtype, tolerance, cost)."""
        verdict = "ok" if self.ok else f"FAIL ({', '.join(self.failed)})"
        what = f"{self.label}: " if self.label else ""
        return (
            f"{what}gradcheck {self.mode} mode: {verdict}\n"
            f"{self.reference} reference (h={self.step:.1e}), {self.dtype}, rtol={self.tolerance.rtol:.1e} "
            f"atol={self.tolerance.atol:.1e}, loss={self.loss:.6g}\n"
            f"{self.n_loss_evals} loss evaluations, {self.seconds:.2f} s"
        )

    def table(self) -> str:
        """The title, one row per parameter, the worst entries, notes and diagnoses; lines fit 100 columns."""
        lines = [self.title(), _grid(*self._summary_rows())]
        entries = []
        for p in self.params:  # a passing parameter shows its closest call, a failing one its offenders
            entries += (p.worst if not p.ok else p.worst[:1]) + p.kink_entries
        if entries:
            head = ["param", "index", "analytic", "numerical", "rel err", "ratio", "× allowed", "status"]
            rows = [
                [e.param, _index(e.index), _g(e.analytic), _g(e.numerical), _e(e.rel_err), _r(e.ratio)]
                + [_x(e.times_allowed), e.status]
                for e in entries
            ]
            lines += ["", "worst entries first (ratio: analytic/numerical; × allowed: error/allowed error, > 1 fails)"]
            lines.append(_grid(rows, head))
        notes = [f"{p.name}: {p.note}" for p in self.params if p.note]
        notes += [f"note: {n}" for n in self.notes]
        notes += [f"diagnosis: {d.message}" for d in self.diagnoses]
        if notes:
            lines.append("")
            lines += [textwrap.fill(n, width=WIDTH, subsequent_indent="    ") for n in notes]
        return "\n".join(lines)

    def _summary_rows(self) -> tuple[list[list[str]], list[str]]:
        if self.mode == "full":
            head = ["param", "shape", "checked", "wrong", "kinks", "max abs err", "max rel err", "status"]
            rows = [
                [p.name, _shape(p.shape), f"{p.checked}/{p.size}" + (" (sample)" if p.sampled else "")]
                + [str(p.mismatches), str(p.kinks), _e(p.max_abs), _e(p.max_rel), _ok(p.ok)]
                for p in self.params
            ]
            return rows, head
        head = ["param", "shape", "dirs", "failed", "kinks", "max |Δ|/τ", "τ", "catches ‖e‖≥", "wrong"]
        head.append("status")
        rows = []
        for p in self.params:
            d = p.directions
            assert d is not None
            found = str(p.mismatches) if p.complete or not p.mismatches else f"{p.mismatches}+ (stopped)"
            kinks = f"{d.kinks} ({d.unverified} unverified)" if d.unverified else str(d.kinks)
            row = [p.name, _shape(p.shape), str(d.count), str(d.failed), kinks, _e(d.max_ratio), _e(d.tau)]
            rows.append(row + [_e(d.catch_norm), found if not p.ok else "-", _ok(p.ok)])
        return rows, head

    def __str__(self) -> str:
        return self.table()


def _finite(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _e(v: float) -> str:
    return f"{v:.2e}" if math.isfinite(v) else str(v)


def _g(v: float) -> str:
    return f"{v:.6g}"


def _r(v: float) -> str:
    """A ratio with enough digits to tell it from 1 (``1.0001``, never ``1`` for a mismatch)."""
    return factor_text(v) if math.isfinite(v) else str(v)


def _x(v: float) -> str:
    return f"{v:.3g}" if math.isfinite(v) else str(v)


def _ok(flag: bool) -> str:
    return "ok" if flag else "FAIL"


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _index(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]"


def _grid(rows: list[list[str]], head: list[str]) -> str:
    """A plain text table: left-aligned columns two spaces apart, a rule under the header."""
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(head), line(["-" * w for w in widths]), *(line(r) for r in rows)])
