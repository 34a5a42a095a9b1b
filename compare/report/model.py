"""The report as typed data: one dataclass per section, a :class:`Report` holding them.

The sections (:mod:`compare.sections`) compute these; every renderer (text, Markdown, CSV,
charts, the teaching page, ``compare.report diff``) reads only these. ``Report.to_json`` and
``Report.from_json`` define the file format once (:mod:`compare.report.codec`), versioned by
:data:`SCHEMA_VERSION`; :func:`schema_text` prints it for the README (a test keeps them equal).

Usage::

    report = harness.run(cfg)                  # a Report
    text = report.to_json()
    same = Report.from_json(text)              # SchemaError for another version or a bad file
    saved = Report.load("run.json")            # the same from a file, read with a size cap

The framework table's and the two studies' objects (the cost growth, the lesson on the step h) are in
:mod:`compare.report.model_studies` and are part of the same schema.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import typing
from dataclasses import dataclass, field

from compare.config import RunConfig
from compare.report.codec import SchemaError, from_data, parse_json, read_text, to_data, type_name
from compare.report.model_studies import (  # noqa: F401  (part of the schema; imported from here by its readers)
    MIN_SIZES,
    PLAUSIBLE_SLOPES,
    SLOPE_WIDTH,
    FrameworkRow,
    FrameworkSection,
    LessonRow,
    LessonSection,
    LossCount,
    ScalingFit,
    ScalingPlan,
    ScalingPoint,
    ScalingSection,
)
from compare.report.upgrade import upgrade

SCHEMA_VERSION = 4
# The version grows with the format, so that older code names the version of a newer file instead of
# refusing an "unknown field"; an older version stays readable (compare.report.upgrade). 3: the timings'
# raw values (``samples_s``), empty when read from a version-2 report. 4: the frameworks' versions and
# switches as maps keyed by the registry's names (``env.versions``, ``config.switches``).
READABLE_VERSIONS = (2, 3, 4)


@dataclass
class Env:
    cpu: str  # CPU model
    cores: int  # os.cpu_count()
    threads: int  # threads the run asked for
    numpy_threads: str  # BLAS threads numpy runs with, as threadpoolctl reports them
    torch_threads: int  # torch.get_num_threads()
    python: str  # Python version
    versions: dict[str, str]  # registered framework -> its installed version ("numpy", "torch", "jax" when installed)
    blas: str  # numpy's BLAS library and version
    devices: list[str]  # torch devices compared
    gpus: list[str]  # CUDA device names
    git: str | None  # short commit of the project's own git checkout, when the code runs from one
    date: str  # UTC start time
    seed: int  # seed of the weights and the batch stream
    version: str | None = None  # dlfs-compare version that ran ("0+unknown" uninstalled; null in older reports)
    usable_cpus: int | None = None  # CPUs this process may run on (sched_getaffinity; null in older reports)
    load_start: list[float] | None = None  # load average over 1, 5, 15 min as the run started (null: none, older)
    load_end: list[float] | None = None  # the same after the run's last measurement (the run's own threads count)


@dataclass
class MethodNote:
    method: str  # the method's label
    status: str  # "not provided" | "FAIL" (the method raised or returned something unusable)
    message: str  # one line: what happened (exception type and message)
    where: str = ""  # file:line in the implementation's own code, when it raised


@dataclass
class DiagnosisNote:
    method: str  # the method whose gradient is diagnosed
    code: str  # scaled | sign | transpose | zero | ignored | hidden-only | small-smooth
    params: list[str]  # the parameters it explains
    message: str  # one line for people


@dataclass
class GradientRow:
    method_a: str
    method_b: str
    param: str  # W1 | b1 | W2 | b2
    max_abs: float  # max |a - b|
    max_rel: float  # max relative error (dlfs_gradcheck.metrics)
    index: list[int]  # index of the worst entry
    a_value: float  # method A's value there
    b_value: float  # method B's value there
    rtol: float  # pass when max_rel <= rtol
    atol: float  # floor for near-zero entries: atol / rtol
    kinks: int  # entries left out because the ±h step straddles a ReLU kink
    ok: bool


@dataclass
class GradientSection:
    loss: float  # exact cross-entropy at the shared weights on the first batch
    rows: list[GradientRow]  # every pair of methods, every parameter
    ok: bool  # every row ok and no method failed
    notes: list[MethodNote] = field(default_factory=list)  # methods that failed or were not provided
    diagnoses: list[DiagnosisNote] = field(default_factory=list)  # what a failing gradient most likely got wrong


@dataclass
class TrainingRun:
    method: str
    steps: int  # steps made (a numerical run may stop at its time budget)
    seconds: float  # wall time of the whole run
    eval_steps: list[int]  # steps after whose update accuracy was measured
    train_acc: list[float]
    test_acc: list[float]
    losses: list[float]  # loss at each step, before that step's update
    compile_s: float | None = None  # of `seconds`, the first call's compilation (JAX, torch.compile); null: none

    def contradiction(self) -> str | None:
        """``"field: problem"`` when the accuracy records do not pair up with their steps (a file edited by hand)."""
        for name in ("train_acc", "test_acc"):
            n = len(getattr(self, name))
            if n != len(self.eval_steps):
                return f"{name}: {n} records for {len(self.eval_steps)} eval_steps"
        return None


@dataclass
class TrajectoryRow:
    method_a: str
    method_b: str
    steps: int  # steps both ran (the shorter run)
    max_abs: float  # max over steps of |loss_a - loss_b|
    max_rel: float  # max over steps of the relative loss difference
    first_bad_step: int | None  # first step whose relative difference exceeds rtol (null: none)
    rtol: float
    acc_records: int  # accuracy records both have
    acc_max_diff: float  # max |acc_a - acc_b| over train and test records
    acc_ok: bool  # every record within one sample
    weights_max_rel: float  # final weights (after `steps` updates), max over parameters
    weights_rtol: float
    weights_checked: bool  # false when the two runs kept no snapshot at `steps`
    checked: bool  # false: reported only (a numerical gradient against an exact one across ReLU kinks)
    ok: bool  # every check made passed (true for a row that is not checked)
    note: str  # why something was not checked, or ""


@dataclass
class TrajectorySection:
    iter_per_epoch: float  # the book's max(train_size / batch_size, 1)
    runs: list[TrainingRun]
    pairs: list[TrajectoryRow]  # every pair of runs
    ok: bool  # every checked pair ok and no method failed
    notes: list[MethodNote] = field(default_factory=list)


@dataclass
class TimingRow:
    method: str  # the method's family: numerical | numerical-fast | backprop | autograd | ...
    label: str  # the method's row name
    device: str
    dtype: str
    threads: int
    shape: str  # "D-H-C xB"
    n_params: int  # P
    median_s: float  # per gradient
    iqr_s: float
    min_s: float
    samples_s: list[float] = field(default_factory=list, kw_only=True)  # every run's time, as timed (version 2: none)
    runs: int
    loops: int
    noisy: bool  # IQR > 10 % of the median
    estimated: bool  # timed on a sample of k parameters and scaled to P
    sampled: int  # k (equal to P when not estimated)
    ratio_fastest: float  # median / fastest median at this shape
    ratio_numerical: float  # median / numerical median at this shape (nan without one)
    compile_s: float | None = None  # compiling the timed call, done before timing (JAX, torch.compile); null: none


@dataclass
class TimingSection:
    rows: list[TimingRow]
    notes: list[MethodNote] = field(default_factory=list)


@dataclass
class Summary:
    lines: list[str]  # the plain-words answer, one sentence per line
    numbers: dict[str, typing.Any]  # the figures the sentences quote


@dataclass
class Report:
    schema_version: int  # SCHEMA_VERSION of the code that wrote it
    ok: bool  # every agreement check passed
    env: Env
    config: RunConfig  # every option of the run
    devices: list[str]  # torch devices compared
    shape: str  # "D-H-C" of the run's net
    gradients: GradientSection | None = None  # absent (null) when the section was not run
    trajectory: TrajectorySection | None = None
    timing: TimingSection | None = None
    frameworks: FrameworkSection | None = None  # from the gradient and timing sections, when either ran
    scaling: ScalingSection | None = None
    lesson: LessonSection | None = None
    summary: Summary | None = None

    def to_json(self) -> str:
        return json.dumps(to_data(self), indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "the report") -> Report:
        """Parse a saved report of a :data:`READABLE_VERSIONS` version; :class:`SchemaError` (one line) otherwise."""
        data = parse_json(text, source)
        version = data.get("schema_version") if isinstance(data, dict) else None
        if version not in READABLE_VERSIONS:
            *older, newest = map(str, READABLE_VERSIONS)
            readable = "versions " + ", ".join(older) + " and " + newest
            raise SchemaError(f"{source} has schema version {version!r}; this version of dlfs-compare reads {readable}")
        try:
            return from_data(cls, upgrade(data, version))
        except SchemaError as e:
            raise SchemaError(f"{source}: {e}") from None

    def contradiction(self) -> str | None:
        """``"field: problem"`` when a saved verdict contradicts the rows it sums up (the file was edited).

        A run writes ``ok`` true exactly when every gradient row and every trajectory pair is ok and
        no method failed (a FAIL note in any section); each section's ``ok`` is true only when its
        rows are. A file that says otherwise was edited, and its verdict cannot be shown as the run's.
        """
        sections = {"gradients": self.gradients, "trajectory": self.trajectory}
        bad = {
            "gradients": sum(not r.ok for r in self.gradients.rows) if self.gradients else 0,
            "trajectory": sum(not p.ok for p in self.trajectory.pairs) if self.trajectory else 0,
        }
        for name, section in sections.items():
            if section is not None and section.ok and bad[name]:
                rows = f"{bad[name]} of its rows {'are' if bad[name] > 1 else 'is'}"
                return f"{name}.ok: true, but {rows} not ok; the file was changed after the run"
        failed = [n for sec in (self.gradients, self.trajectory, self.timing) if sec is not None for n in sec.notes]
        failed = [n for n in failed if n.status == "FAIL"]
        everything = not failed and not any(bad.values()) and all(s.ok for s in sections.values() if s is not None)
        if self.ok != everything:
            n = len(failed) or sum(bad.values())
            what = f"{n} method failure{'s' * (n != 1)}" if failed else f"{n} row{'s' * (n != 1)} not ok"
            held = what if not everything else "no failure"
            return f"ok: {str(self.ok).lower()}, but the report holds {held}; the file was changed after the run"
        return None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Report:
        """The report saved at ``path``: OSError when it cannot be opened, :class:`SchemaError` (one line) otherwise."""
        return cls.from_json(read_text(path), source=os.fsdecode(path))


def _field_comments(cls: type) -> dict[str, str]:
    """The ``# comment`` after each field in the class's source (the schema's documentation)."""
    comments = {}
    for line in inspect.getsource(cls).splitlines():
        name, colon, rest = line.strip().partition(":")
        if colon and name.isidentifier() and "  # " in rest:
            comments[name] = rest.split("  # ", 1)[1].strip()
    return comments


def schema_text() -> str:
    """The JSON schema of :class:`Report`, one block per object type (generated for the README)."""
    seen: list[type] = []

    def visit(tp: typing.Any) -> None:
        for arg in typing.get_args(tp) or (tp,):
            if dataclasses.is_dataclass(arg) and arg not in seen:
                seen.append(arg)
                for hint in typing.get_type_hints(arg).values():
                    visit(hint)
            elif typing.get_args(arg):
                visit(arg)

    visit(Report)
    out = [f'schema_version {SCHEMA_VERSION}; floats that are not finite are written "inf", "-inf" or "nan".\n']
    for cls in seen:
        hints = typing.get_type_hints(cls)
        comments = _field_comments(cls)
        out.append(f"\n{cls.__name__}\n")
        for f in dataclasses.fields(cls):
            note = f"  # {comments[f.name]}" if f.name in comments else ""
            out.append(f"  {f.name}: {type_name(hints[f.name])}{note}\n")
    return "".join(out)


__all__ = ["READABLE_VERSIONS", "SCHEMA_VERSION", "Report", "SchemaError", "schema_text"]
