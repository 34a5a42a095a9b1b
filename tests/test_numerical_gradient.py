"""The book's numerical gradient against analytic derivatives of simple functions.

Run: ``python -m pytest tests/test_numerical_gradient.py``. Reference: Deep
Learning from Scratch, ch. 4 (central differences, ``h = 1e-4``, one element at
a time, each element restored).

Error of a central difference in dtype with unit roundoff ε, for f of n terms:

    |num - f'| <= h² |f'''| / 6                         (truncation)
                + n ε (|f| + (|x| + h) |f'|) / h        (rounding of f and of x ± h)

with |f| taken at the perturbed points (|x| + h: for tiny x, f(x ± h) >> f(x)).

The first term is 0 for the quadratic and the product below (each is at most
quadratic in any one element). In float64 with h = 1e-4 the bound is ~1e-9; in
float32 the book's h = 1e-4 gives mostly noise (ε / h ≈ 1e-3), so float32 uses
h = 1e-2, near the optimum ε^(1/3).
"""

from __future__ import annotations

from collections.abc import Callable

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from helpers import assert_grads_close
from hypothesis import given
from hypothesis import strategies as st

from dlfs_gradcheck.metrics import Tolerance
from impl_numpy import DtypeError, numerical_gradient

STEP = {np.dtype(np.float64): 1e-4, np.dtype(np.float32): 1e-2}  # h per dtype (see the module docstring)

shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)  # 1-D, 2-D, 3-D, up to 27 entries
float_dtypes = st.sampled_from([np.dtype(np.float64), np.dtype(np.float32)])


@st.composite
def points(draw: st.DrawFn, low: float = -2.0, high: float = 2.0) -> np.ndarray:
    """A float64 or float32 array of a 1- to 3-D shape with values in [low, high]."""
    dtype = draw(float_dtypes)
    shape = draw(shapes)
    elements = st.floats(low, high, width=32)  # representable in both dtypes
    return draw(hnp.arrays(dtype, shape, elements=elements))


def tolerance(x: np.ndarray, h: float, f_scale: float, grad: np.ndarray, third: float) -> Tolerance:
    """The bound of the module docstring as an absolute tolerance (rtol: 4 ulps, negligible)."""
    eps = float(np.finfo(x.dtype).eps)
    n = x.size
    x_scale = float(np.max(np.abs(x)))
    g_scale = float(np.max(np.abs(grad)))
    rounding = n * eps * (f_scale + (x_scale + h) * g_scale) / h
    truncation = h**2 * third / 6
    return Tolerance(rtol=4 * eps, atol=rounding + truncation)


def check(
    f: Callable[[np.ndarray], float],
    x: np.ndarray,
    grad: np.ndarray,
    f_scale: Callable[[np.ndarray], float],
    third: float,
) -> None:
    """Compare the numerical gradient of ``f`` at ``x`` with the analytic ``grad``.

    ``f_scale(r)`` bounds ``|f|`` over points with ``|entries| <= r`` (it gets ``|x| + h``).
    """
    h = STEP[x.dtype]
    num = numerical_gradient(f, x, h)
    assert num.shape == x.shape
    assert num.dtype == x.dtype
    tol = tolerance(x, h, f_scale(np.abs(x.astype(np.float64)) + h), grad, third)
    assert_grads_close({"grad": num}, {"grad": grad}, tol, f"numerical ({x.dtype}, h={h})", "analytic")


@given(points())
def test_quadratic(x: np.ndarray) -> None:
    w = (1.0 + np.arange(x.size).reshape(x.shape) / x.size).astype(x.dtype)  # weights in [1, 2)

    def f(z: np.ndarray) -> float:
        return np.sum(w * z**2)

    grad = 2.0 * w.astype(np.float64) * x.astype(np.float64)  # d/dx sum(w x²) = 2 w x
    check(f, x, grad, f_scale=lambda r: float(np.sum(w * r**2)), third=0.0)


@given(points())
def test_sin(x: np.ndarray) -> None:
    grad = np.cos(x.astype(np.float64))  # d/dx sum(sin x) = cos x; |f'''| = |cos x| <= 1
    check(lambda z: np.sum(np.sin(z)), x, grad, f_scale=lambda r: float(r.size), third=1.0)


@given(points(low=0.5, high=1.5))
def test_product(x: np.ndarray) -> None:
    xf = x.astype(np.float64).ravel()
    # d/dx_i prod(x) = prod of the others (computed without dividing by x_i).
    grad = np.array([np.prod(np.delete(xf, i)) for i in range(xf.size)]).reshape(x.shape)
    check(lambda z: np.prod(z), x, grad, f_scale=lambda r: float(np.prod(r)), third=0.0)


def test_central_difference_of_cube_is_off_by_exactly_h_squared() -> None:
    # ((x+h)³ - (x-h)³) / 2h = 3x² + h²: central differences, not one-sided ones
    # (a forward difference would be off by 3xh + h²). With h = 1e-2 the h² = 1e-4
    # offset dwarfs rounding (~1e-13 for |x| <= 2), so 1e-10 absolute separates them.
    x = np.array([-2.0, -0.5, 0.0, 0.25, 1.0, 2.0])
    num = numerical_gradient(lambda z: np.sum(z**3), x, h=1e-2)
    assert np.max(np.abs(num - (3 * x**2 + 1e-4))) <= 1e-10


def test_perturbs_x_in_place_one_element_at_a_time() -> None:
    # The book's ``lambda W: net.loss(x, t)`` ignores its argument and reads the
    # array being perturbed, so the perturbation must happen in x itself.
    x = np.array([[0.5, -1.0, 2.0], [0.0, 3.0, -0.25]])
    original = x.copy()
    h = 1e-4
    seen: list[tuple[tuple[int, ...], float]] = []

    def f(_: np.ndarray) -> float:
        changed = np.argwhere(x != original)
        assert len(changed) == 1, f"expected one perturbed element, found {len(changed)}"
        idx = tuple(int(i) for i in changed[0])
        seen.append((idx, float(x[idx] - original[idx])))
        return float(np.sum(x**2))

    num = numerical_gradient(f, x, h)
    # Each element once with +h, then once with -h, in C order; the step is h up to
    # the rounding of x ± h (<= ulp(3) = 4.4e-16, i.e. 4.4e-12 relative to h).
    expected = [(idx, sign * h) for idx in np.ndindex(x.shape) for sign in (1.0, -1.0)]
    assert [s[0] for s in seen] == [e[0] for e in expected]
    assert np.allclose([s[1] for s in seen], [e[1] for e in expected], rtol=1e-11, atol=0.0)
    assert x.tobytes() == original.tobytes()
    # sum(x²) is quadratic: exact up to rounding, 10 eps |f| / h ~ 2e-10 (|f| ~ 14).
    assert np.max(np.abs(num - 2 * original)) <= 1e-9


@given(
    hnp.arrays(
        float_dtypes,
        shapes,
        elements=st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=True, width=32),
    )
)
def test_x_is_bit_identical_afterwards(x: np.ndarray) -> None:
    # Any finite value, -0.0 and subnormals included: x[k] is put back as the value
    # read before the step, never as (x[k] + h) - h.
    before = x.tobytes()
    numerical_gradient(lambda z: 0.0, x)
    assert x.tobytes() == before


class Interrupt(Exception):
    """Raised by a test function part-way through the loop."""


@given(points(), st.data())
def test_x_is_restored_when_f_raises(x: np.ndarray, data: st.DataObject) -> None:
    before = x.tobytes()
    stop = data.draw(st.integers(1, 2 * x.size), label="failing call")  # 2 calls per element
    calls = 0

    def f(z: np.ndarray) -> float:
        nonlocal calls
        calls += 1
        if calls == stop:  # x has one element perturbed by +h or -h right now
            raise Interrupt
        return float(np.sum(z))

    with pytest.raises(Interrupt):
        numerical_gradient(f, x)
    assert x.tobytes() == before


@pytest.mark.parametrize(
    "x",
    [
        np.arange(6).reshape(2, 3),
        np.array([1, 2, 3], dtype=np.int8),
        np.array([True, False]),
        np.array([1.0 + 0j, 2.0]),
        [1.0, 2.0],
    ],
    ids=["int64", "int8", "bool", "complex", "list"],
)
def test_non_float_x_is_a_dtype_error(x: object) -> None:
    # An integer array cannot hold x + h, and a list cannot be perturbed in place.
    with pytest.raises(DtypeError, match="float ndarray"):
        numerical_gradient(lambda z: 0.0, x)
