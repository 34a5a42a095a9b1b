"""The framework table: per exact method, its gradient agreement, time, compile time and lines of model code.

Computed from the report's gradient and timing sections (nothing is measured again) and
from the model code itself: the lines of each framework's net are counted from its files
(non-blank lines that are neither comments nor docstrings), never typed in. The ratio to
the FLOP-limited time needs the machine's matrix-product peak, which ``python -m
compare.bench`` measures; this table leaves it to the benchmark.
"""

from __future__ import annotations

import ast

from compare import registry
from compare.engine.builtin_runners import BACKPROP, NUMERICAL, NUMERICAL_FAST
from compare.report.model import FrameworkRow, FrameworkSection, GradientSection, TimingSection

REFERENCE = "backprop"  # float64 numpy backprop's label: every gradient is compared with it (when it ran)


def code_lines(source: str) -> int:
    """Lines of ``source`` that hold code: not blank, not only a comment, not part of a docstring."""
    tree = ast.parse(source)
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            value = first.value if isinstance(first, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                skip.update(range(first.lineno, first.end_lineno + 1))
    count = 0
    for number, line in enumerate(source.splitlines(), start=1):
        text = line.strip()
        if text and not text.startswith("#") and number not in skip:
            count += 1
    return count


def _grad_agreement(section: GradientSection | None, reference: str) -> dict[str, tuple[float, bool]]:
    """method label -> (largest max_rel over the parameters, all ok) against ``reference``."""
    out: dict[str, tuple[float, bool]] = {}
    for r in section.rows if section is not None else []:
        if reference not in (r.method_a, r.method_b) or r.method_a == r.method_b:
            continue
        other = r.method_b if r.method_a == reference else r.method_a
        worst, ok = out.get(other, (0.0, True))
        out[other] = (max(worst, r.max_rel), ok and r.ok)
    return out


def build(gradients: GradientSection | None, timing: TimingSection | None, shape: str, dtype: str) -> FrameworkSection:
    """One row per exact method of either section, in the order they first appear; times at ``shape``.

    ``dtype``: the run's ``--dtype``, that of the gradient section's methods; gradients are
    compared with float64 backprop, or with backprop in ``dtype`` when float64 did not run.
    """
    files = registry.model_files()  # the files that hold each framework's model, by group
    groups = registry.family_groups()
    lines = {fw: sum(code_lines(p.read_text(encoding="utf-8")) for p in paths) for fw, paths in files.items()}
    labels = list(
        dict.fromkeys(name for r in (gradients.rows if gradients else []) for name in (r.method_a, r.method_b))
    )
    reference = REFERENCE if REFERENCE in labels or not labels else f"{BACKPROP}[{dtype}]"
    agreement = _grad_agreement(gradients, reference)
    timed = {r.label: r for r in (timing.rows if timing is not None else []) if r.shape == shape}
    methods: dict[str, tuple[str, str]] = {}  # label -> (family, dtype)
    for r in timed.values():
        methods.setdefault(r.label, (r.method, r.dtype))
    for label in labels:
        methods.setdefault(label, ("", dtype))
    rows = []
    for label, (family, row_dtype) in methods.items():
        if family in (NUMERICAL, NUMERICAL_FAST) or label.startswith((NUMERICAL, "book-loss")):
            continue
        framework = groups.get(family or label.split("[")[0], "user")
        t = timed.get(label)
        rel, ok = agreement.get(label, (None, None))
        if label == reference and gradients is not None:
            rel, ok = 0.0, None  # the reference itself
        rows.append(
            FrameworkRow(
                framework=framework,
                method=label,
                dtype=row_dtype,
                grad_max_rel=rel,
                grad_ok=ok,
                gradient_s=None if t is None else t.median_s,
                compile_s=None if t is None else t.compile_s,
                code_lines=lines.get(framework),
            )
        )
    counted = {fw: [f"{p.parent.name}/{p.name}" for p in paths] for fw, paths in files.items()}
    return FrameworkSection(shape=shape, rows=rows, code_files=counted)
