"""This checker against ``torch.autograd.gradcheck`` and ``jax.test_util.check_grads`` on the same planted bugs.

Usage::

    python -m compare.gradcheck.versus            # 784-50-10 sigmoid net, batch 8, float64 (a few minutes)
    python -m compare.gradcheck.versus --quick    # a 32-8-4 net, batch 4 (seconds; what CI runs)

Every checker sees the same code under test: the numpy net's backprop
(``TwoLayerNet.gradient``) with one planted bug, and the same float64 loss. For
torch it is wrapped in a ``torch.autograd.Function`` (forward: the numpy loss;
backward: the buggy gradient), for jax in a ``jax.custom_vjp`` whose forward and
backward call numpy through ``jax.pure_callback``. Each cell says whether the
checker caught the bug and how long it took (wall clock, one thread, after one
untimed warm-up call per checker on the correct gradient). jax is
optional: without it its column says so. Prints a Markdown table; exit status 0,
2 for bad usage.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from compare.cli import Parser
from compare.exits import UsageError, fail

NAMES = ("W1", "b1", "W2", "b2")
Grads = dict[str, np.ndarray]


def _typical(g: np.ndarray) -> int:
    """Flat index of the entry closest to the RMS size: neither large nor tiny."""
    rms = float(np.sqrt(np.mean(g**2)))
    return int(np.argmin(np.abs(np.abs(g.reshape(-1)) - rms)))


def bugs(batch: int) -> dict[str, Callable[[Grads], None]]:
    """Planted bugs, each applied in place to a copy of the correct gradient."""

    def one_w1(g: Grads) -> None:
        g["W1"].flat[_typical(g["W1"])] *= 1.01

    def one_w2(g: Grads) -> None:
        g["W2"].flat[_typical(g["W2"])] *= 1.001

    def sign_b2(g: Grads) -> None:
        g["b2"] *= -1

    def no_mean(g: Grads) -> None:
        for k in NAMES:
            g[k] *= batch

    def zero_b1(g: Grads) -> None:
        g["b1"][:] = 0

    return {
        "none (correct gradient)": lambda g: None,
        "1 % error in one W1 entry": one_w1,
        "0.1 % error in one W2 entry": one_w2,
        "b2 sign flipped": sign_b2,
        "missing / batch_size": no_mean,
        "b1 all zero": zero_b1,
    }


def _ours(mode: str, reference: str):
    from compare.gradcheck import check_gradients

    def run(loss: Callable, grad: Callable, params: Grads) -> bool:
        return not check_gradients(loss, grad, params, mode=mode, reference=reference).ok

    return run


def _torch(fast_mode: bool):
    def run(loss: Callable, grad: Callable, params: Grads) -> bool:
        import torch

        class Net(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *tensors):
                p = {k: np.array(t.detach().numpy()) for k, t in zip(NAMES, tensors, strict=True)}
                ctx.p = p
                return torch.tensor(loss(p), dtype=torch.float64)

            @staticmethod
            def backward(ctx, out):
                g = grad(ctx.p)
                return tuple(out * torch.from_numpy(np.ascontiguousarray(g[k])) for k in NAMES)

        inputs = tuple(torch.tensor(params[k], dtype=torch.float64, requires_grad=True) for k in NAMES)
        return not torch.autograd.gradcheck(Net.apply, inputs, fast_mode=fast_mode, raise_exception=False)

    return run


def _jax():
    def run(loss: Callable, grad: Callable, params: Grads) -> bool:
        import jax
        import jax.numpy as jnp
        from jax.test_util import check_grads

        jax.config.update("jax_enable_x64", True)
        shapes = tuple(jax.ShapeDtypeStruct(params[k].shape, jnp.float64) for k in NAMES)

        def np_loss(*a):
            return np.float64(loss({k: np.asarray(v) for k, v in zip(NAMES, a, strict=True)}))

        def np_grad(*a):
            g = grad({k: np.array(v) for k, v in zip(NAMES, a, strict=True)})
            return tuple(np.asarray(g[k], dtype=np.float64) for k in NAMES)

        @jax.custom_vjp
        def f(*a):
            return jax.pure_callback(np_loss, jax.ShapeDtypeStruct((), jnp.float64), *a)

        def f_fwd(*a):
            return f(*a), a

        def f_bwd(res, out):
            return tuple(out * gi for gi in jax.pure_callback(np_grad, shapes, *res))

        f.defvjp(f_fwd, f_bwd)
        try:
            check_grads(f, tuple(jnp.asarray(params[k]) for k in NAMES), order=1, modes=("rev",))
        except AssertionError:
            return True
        return False

    return run


def checkers() -> dict[str, Callable | None]:
    out = {
        "this, fast, complex": _ours("fast", "complex"),
        "this, fast, central": _ours("fast", "central"),
        "this, full, central": _ours("full", "central"),
        "torch fast_mode": _torch(True),
        "torch slow mode": _torch(False),
    }
    try:
        import jax  # noqa: F401
    except ImportError:
        out["jax check_grads (not installed)"] = None
    else:
        out["jax check_grads"] = _jax()
    return out


def measure(sizes: tuple[int, int, int], batch: int, seed: int = 0) -> tuple[list[str], list[list[str]]]:
    """Run every checker on every bug; returns the Markdown table's header and rows."""
    import torch

    from compare.data import make_synthetic
    from compare.gradcheck import numpy_net_problem
    from impl_numpy import init_params

    torch.set_num_threads(1)
    data = make_synthetic(n_train=batch, n_test=1, input_size=sizes[0], n_classes=sizes[2], seed=seed)
    problem = numpy_net_problem(init_params(*sizes, seed=seed), data.x_train, data.t_train)
    head = ["planted bug"]
    rows = [[name] for name in bugs(batch)]
    for label, run in checkers().items():
        head.append(label)
        if run is not None:  # warm-up, untimed: imports, jax's tracing
            run(problem.loss_fn, problem.grad_fn, problem.params)
        for row, bug in zip(rows, bugs(batch).values(), strict=True):
            if run is None:
                row.append("-")
                continue

            def grad(p: Grads, bug=bug) -> Grads:
                g = {k: np.array(v) for k, v in problem.grad_fn(p).items()}
                bug(g)
                return g

            start = time.perf_counter()
            caught = run(problem.loss_fn, grad, problem.params)
            seconds = time.perf_counter() - start
            correct = row[0].startswith("none")
            word = ("FALSE ALARM" if caught else "passed") if correct else ("caught" if caught else "MISSED")
            row.append(f"{word} {seconds:.2g} s")
    return head, rows


def markdown(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def main(argv: list[str] | None = None) -> int:
    p = Parser(prog="python -m compare.gradcheck.versus", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a 32-8-4 net, batch 4 (seconds)")
    try:
        args = p.parse_args(argv)
    except UsageError as e:
        return fail(str(e))
    sizes, batch = ((32, 8, 4), 4) if args.quick else ((784, 50, 10), 8)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        head, rows = measure(sizes, batch)
    else:
        with threadpool_limits(1, user_api="blas"):
            head, rows = measure(sizes, batch)
    print(f"{sizes[0]}-{sizes[1]}-{sizes[2]} sigmoid net, batch {batch}, float64; seconds per check, one thread\n")
    print(markdown(head, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
