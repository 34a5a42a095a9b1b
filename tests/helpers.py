"""The comparison helpers of the test suite: one for plain arrays, one for named gradients, one for two nets.

- :func:`assert_close` compares two arrays (or scalars) with a :class:`dlfs_gradcheck.metrics.Tolerance`;
- :func:`assert_grads_close` compares two dicts of arrays (``W1``, ``b1``, ... or ``loss``) name by name;
- :func:`assert_nets_agree` feeds the same batch to two nets and compares the loss, then the gradient
  (in the spirit of tinygrad's ``helper_test_op``), with a tolerance named per dtype.

All measure with :func:`dlfs_gradcheck.metrics.diff` (the project's single definition of relative error)
and, on failure, name the array, the worst index, both values and the absolute and relative errors.
The hypothesis profiles live in ``conftest.py``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Protocol

import numpy as np
import pytest

from compare.env import THREAD_VARS
from dlfs_gradcheck.metrics import EXACT_F64, LOW_PRECISION, Tolerance, diff

# Named tolerances per dtype for two exact computations of the same formulas (derivations in
# dlfs_gradcheck.metrics): float64 rounding only, or float32 rounding (eps 1.2e-7) over ~100-term sums.
NET_TOLERANCES = {"float64": EXACT_F64, "float32": LOW_PRECISION}


def _mismatch(
    what: str,
    a: np.ndarray,
    b: np.ndarray,
    tol: Tolerance,
    keep: np.ndarray | None,
    labels: tuple[str, str] = ("A", "B"),
) -> str | None:
    """None when ``a`` and ``b`` agree within ``tol``, else one line saying where and by how much."""
    if a.shape != b.shape:
        return f"{what}: shape {a.shape} from {labels[0]} but {b.shape} from {labels[1]}"
    d = diff(a, b, tol, keep)
    if d.ok(tol):
        return None
    where = f"{what}[{', '.join(str(i) for i in d.worst_index)}]" if d.worst_index else what
    return (
        f"{where}: {labels[0]} = {d.a_value!r}, {labels[1]} = {d.b_value!r}, "
        f"abs err {abs(d.a_value - d.b_value):.3e}, rel err {d.max_rel:.3e} > rtol {tol.rtol:.1e} "
        f"(atol {tol.atol:.1e}; {d.n_bad} of {d.n} entries over; max abs err {d.max_abs:.3e})"
    )


def assert_close(a: object, b: object, tol: Tolerance, what: str, mask: np.ndarray | None = None) -> None:
    """Assert that arrays (or scalars) ``a`` and ``b`` agree within ``tol``; ``what`` names them in the message.

    ``mask`` (optional, ``a``'s shape): True where an entry is compared.
    """
    problem = _mismatch(what, np.asarray(a), np.asarray(b), tol, mask)
    assert problem is None, problem


def assert_grads_close(
    a: Mapping[str, object],
    b: Mapping[str, object],
    tol: Tolerance,
    label_a: str,
    label_b: str,
    mask: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Assert that every array of ``a`` matches the same-named array of ``b`` within ``tol``.

    ``label_a`` / ``label_b`` say which method produced each (they replace A and B in the
    message). ``mask``, when given, maps names to boolean arrays that are True where an entry
    is compared; names it lacks are compared in full.
    """
    assert set(a) == set(b), f"{label_a} has entries {sorted(a)} but {label_b} has {sorted(b)}"
    problems = []
    for name in a:
        keep = None if mask is None else mask.get(name)
        problem = _mismatch(name, np.asarray(a[name]), np.asarray(b[name]), tol, keep, (label_a, label_b))
        if problem is not None:
            problems.append(problem)
    assert not problems, f"{label_a} vs {label_b} differ:\n  " + "\n  ".join(problems)


class Net(Protocol):
    def loss(self, x: np.ndarray, t: np.ndarray) -> float: ...

    def gradient(self, x: np.ndarray, t: np.ndarray) -> Mapping[str, np.ndarray]: ...


def _net_label(net: object) -> str:
    return f"{type(net).__name__}[{getattr(net, 'dtype', '?')}]"


def assert_nets_agree(net_a: Net, net_b: Net, x: np.ndarray, t: np.ndarray, tol: Tolerance | str) -> None:
    """The same batch ``x`` (N, D), ``t`` (N,) into both nets: the loss must agree, then the gradient.

    ``tol`` is a :class:`Tolerance` or a dtype name (``NET_TOLERANCES``: the lower precision of the two).
    The inputs are copied for each net, so that one net writing into them cannot hide a difference.
    """
    tol = NET_TOLERANCES[tol] if isinstance(tol, str) else tol
    la, lb = _net_label(net_a), _net_label(net_b)
    loss_a, loss_b = net_a.loss(x.copy(), t.copy()), net_b.loss(x.copy(), t.copy())
    assert_grads_close({"loss": loss_a}, {"loss": loss_b}, tol, la, lb)
    assert_grads_close(net_a.gradient(x.copy(), t.copy()), net_b.gradient(x.copy(), t.copy()), tol, la, lb)


@contextlib.contextmanager
def pinned_threads(mp: pytest.MonkeyPatch) -> Iterator[None]:
    """One torch thread and one BLAS thread (as ``--threads 1`` sets); everything restored afterwards.

    ``main`` pins the thread variables (and torch's count) itself: they are put back when ``mp``
    is undone. Small ops on several threads slow down a lot when the cores are busy (measured
    under load: a (8, 784) @ (784, 50) complex product 55 ms with two BLAS threads, 0.1 ms with one).
    """
    import torch

    for var in THREAD_VARS:
        mp.setenv(var, os.environ.get(var, "1"))  # restored (or removed) when ``mp`` is undone
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        limits = contextlib.nullcontext()
    else:
        limits = threadpool_limits(1, user_api="blas")
    try:
        with limits:
            yield
    finally:
        torch.set_num_threads(before)


def verdict_of(report_text: str) -> str:
    """The text report's verdict (its last paragraph, from ``OK:`` or ``FAILED:``), wrapped lines joined."""
    lines = report_text.rstrip().splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith(("OK:", "FAILED:")))
    return " ".join(line.strip() for line in lines[start:])
