"""The one comparison helper of the test suite, plus shared hypothesis settings.

Every gradient (or loss) comparison in the tests goes through
:func:`assert_grads_close`, which measures with :func:`compare.metrics.diff` (the
project's single definition of relative error) and, on failure, names the
parameter, the worst index, both values and the absolute and relative errors.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from hypothesis import settings

from compare.metrics import Tolerance, diff

# Hypothesis tests stay fast and never time out on a busy 2-core machine.
FAST = settings(max_examples=25, deadline=None)


def assert_grads_close(
    a: Mapping[str, object],
    b: Mapping[str, object],
    tol: Tolerance,
    label_a: str,
    label_b: str,
    mask: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Assert that every array of ``a`` matches the same-named array of ``b`` within ``tol``.

    ``a`` and ``b`` map names (``W1``, ``b1``, ... or ``loss``) to arrays or
    scalars; ``label_a`` / ``label_b`` say which method produced each. ``mask``,
    when given, maps names to boolean arrays that are True where an entry is
    compared (as in :func:`compare.metrics.diff`); names it lacks are compared
    in full.
    """
    assert set(a) == set(b), f"{label_a} has entries {sorted(a)} but {label_b} has {sorted(b)}"
    problems = []
    for name in a:
        va = np.asarray(a[name])
        vb = np.asarray(b[name])
        if va.shape != vb.shape:
            problems.append(f"{name}: shape {va.shape} from {label_a} but {vb.shape} from {label_b}")
            continue
        keep = None if mask is None else mask.get(name)
        d = diff(va, vb, tol, keep)
        if d.ok(tol):
            continue
        where = f"{name}[{', '.join(str(i) for i in d.worst_index)}]"
        problems.append(
            f"{where}: {label_a} = {d.a_value!r}, {label_b} = {d.b_value!r}, "
            f"abs err {abs(d.a_value - d.b_value):.3e}, rel err {d.max_rel:.3e} > rtol {tol.rtol:.1e} "
            f"(atol {tol.atol:.1e}; {d.n_bad} of {d.n} entries over; max abs err {d.max_abs:.3e})"
        )
    assert not problems, f"{label_a} vs {label_b} differ:\n  " + "\n  ".join(problems)
