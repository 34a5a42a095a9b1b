"""JAX against numpy backprop: time per training step in interleaved rounds, compile time, a long trajectory.

Usage::

    python -m compare.jax_bench                      # 784-50-10, batch 100, 7 rounds of 400 steps per method
    python -m compare.jax_bench --rounds 9 --steps 600
    python -m compare.jax_bench --trajectory 10000   # float64 trajectory on digits vs numpy backprop
    python -m compare.jax_bench --trajectory 10000 --activation relu

Timing: each round runs every method for ``--steps`` steps, one after another
(numpy, jax float64, jax float32, and jax stepped from a Python loop), never
interleaving numpy and JAX work step by step (their thread pools fight). A step is
a full SGD step including the batch gather. The per-step time of each method is
the median over rounds (with the lowest and highest round), and the ratio to
numpy is taken within each round, so drift between rounds cancels. Compilation
happens before the first round and is reported apart.

Threads: numpy's BLAS and XLA each use every core by default. On a machine shared
with other work, a multi-threaded OpenBLAS step can slow down tenfold while XLA's
does not, which says nothing about the code; compare one thread each with
``OPENBLAS_NUM_THREADS=1 XLA_FLAGS="--xla_cpu_multi_thread_eigen=false
intra_op_parallelism_threads=1" python -m compare.jax_bench``.

Exit status: 0 done, 2 bad usage or jax not installed, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from compare.cli import Parser, command, program
from compare.data import load_digits, make_synthetic
from compare.engine.protocol import batch_stream, epoch_steps
from compare.exits import fail
from compare.jax_runner import NOT_INSTALLED, jax_available
from compare.options import non_negative_int, positive_int
from impl_numpy import TwoLayerNet, init_params

LR = 0.1


@dataclass
class StepTiming:
    label: str
    per_step_s: list[float]  # one per round
    ratio_to_numpy: list[float]  # one per round (numpy's own row: all 1.0)
    compile_s: float | None = None  # JAX only: compiling what the timed block runs


def _numpy_block(params: dict, data, batches: np.ndarray, dtype: str) -> Callable[[], None]:
    net = TwoLayerNet.from_params(params, dtype=dtype)
    x = data.x_train.astype(dtype)

    def block() -> None:
        for idx in batches:
            net.train_step(x[idx], data.t_train[idx], LR)

    return block


def _jax_stream_block(params: dict, data, batches: np.ndarray, dtype: str) -> tuple[Callable[[], None], float]:
    from impl_jax import JaxTwoLayerNet

    net = JaxTwoLayerNet.from_params(params, dtype=dtype)
    args = (data.x_train, data.t_train, data.x_test, data.t_test, batches, LR)
    chunk = batches.shape[0]
    compile_s = net.train_stream(*args, chunk=chunk).compile_seconds  # compiles, and warms up

    def block() -> None:
        net.train_stream(*args, chunk=chunk)  # returns host losses: waits for the device

    return block, compile_s


def _jax_loop_block(params: dict, data, batches: np.ndarray, dtype: str) -> tuple[Callable[[], None], float]:
    import jax

    from impl_jax import JaxTwoLayerNet

    net = JaxTwoLayerNet.from_params(params, dtype=dtype)
    device_batches = [net.to_device_batch(data.x_train[idx], data.t_train[idx]) for idx in batches]
    compile_s = net.compile_step(*device_batches[0])

    def block() -> None:
        losses = [net.train_step(x, t, LR) for x, t in device_batches]
        jax.block_until_ready(losses)

    return block, compile_s


def time_steps(rounds: int, steps: int, hidden: int, batch: int, seed: int) -> list[StepTiming]:
    """Per-step times of numpy backprop and JAX at 784-``hidden``-10 in interleaved rounds."""
    data = make_synthetic(n_train=1000, n_test=200, input_size=784, n_classes=10, seed=seed)
    params = init_params(784, hidden, 10, seed=seed)
    batches = batch_stream(data.train_size, batch, steps, seed)  # (steps, B)
    blocks: dict[str, Callable[[], None]] = {}
    compile_s: dict[str, float] = {}
    for dtype in ("float64", "float32"):
        blocks[f"numpy backprop {dtype}"] = _numpy_block(params, data, batches, dtype)
    for dtype in ("float64", "float32"):
        blocks[f"jax {dtype} (compiled loop)"], compile_s[f"jax {dtype} (compiled loop)"] = _jax_stream_block(
            params, data, batches, dtype
        )
        blocks[f"jax {dtype} (Python loop)"], compile_s[f"jax {dtype} (Python loop)"] = _jax_loop_block(
            params, data, batches, dtype
        )
    for block in blocks.values():  # warm-up: caches, thread pools
        block()
    times: dict[str, list[float]] = {k: [] for k in blocks}
    for _ in range(rounds):
        for label, block in blocks.items():
            start = time.perf_counter()
            block()
            times[label].append((time.perf_counter() - start) / steps)
    out = []
    for label, per_step in times.items():
        base = times["numpy backprop float32" if "float32" in label else "numpy backprop float64"]
        ratios = [a / b for a, b in zip(per_step, base, strict=True)]
        out.append(StepTiming(label, per_step, ratios, compile_s.get(label)))
    return out


def trajectory(steps: int, hidden: int, seed: int, activation: str = "sigmoid") -> dict[str, float]:
    """A float64 run of ``steps`` on digits by numpy backprop and by JAX; the largest relative loss difference."""
    from impl_jax import JaxTwoLayerNet

    data = load_digits()
    params = init_params(data.input_size, hidden, 10, seed=seed)
    batches = batch_stream(data.train_size, 100, steps, seed)
    eval_at = epoch_steps(data.train_size, 100, steps)
    start = time.perf_counter()
    net = TwoLayerNet.from_params(params, activation=activation)
    np_losses = np.array([net.train_step(data.x_train[idx], data.t_train[idx], LR) for idx in batches])
    np_s = time.perf_counter() - start
    start = time.perf_counter()
    jnet = JaxTwoLayerNet.from_params(params, activation=activation)
    res = jnet.train_stream(data.x_train, data.t_train, data.x_test, data.t_test, batches, LR, eval_at)
    jax_s = time.perf_counter() - start
    rel = np.abs(res.losses - np_losses) / np.abs(np_losses)  # (steps,)
    final = res.snapshots[steps]
    w_rel = max(float(np.max(np.abs(final[k] - net.params[k])) / np.max(np.abs(net.params[k]))) for k in final)
    return {
        "steps": steps,
        "max_rel_loss_diff": float(rel.max()),
        "step_of_max": int(rel.argmax()),
        "final_weights_rel_diff": w_rel,
        "final_loss": float(np_losses[-1]),
        "numpy_s": np_s,
        "jax_s_with_compile": jax_s,
        "jax_compile_s": res.compile_seconds,
    }


def render(rows: list[StepTiming], steps: int) -> str:
    head = f"{'method':32} {'µs/step median':>15} {'[min, max]':>18} {'÷ numpy median':>15} {'[min, max]':>14}"
    lines = [head + " compile"]
    for r in rows:
        t = np.array(r.per_step_s) * 1e6
        q = np.array(r.ratio_to_numpy)
        comp = "" if r.compile_s is None else f"{r.compile_s:.2f} s"
        lines.append(
            f"{r.label:32} {np.median(t):15.0f} {f'[{t.min():.0f}, {t.max():.0f}]':>18} "
            f"{np.median(q):15.2f} {f'[{q.min():.2f}, {q.max():.2f}]':>14} {comp}"
        )
    lines.append(f"({len(rows[0].per_step_s)} rounds of {steps} steps per method; ratios within each round)")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = Parser(prog=program("compare.jax_bench"), description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=positive_int, default=7, help="interleaved rounds (default: 7)")
    p.add_argument("--steps", type=positive_int, default=400, help="steps per method per round (default: 400)")
    p.add_argument("--hidden", type=positive_int, default=50, help="hidden units (default: 50)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="weights, data and batches (default: 0)")
    p.add_argument("--trajectory", type=non_negative_int, default=0, metavar="STEPS", help="instead: a float64 run")
    p.add_argument("--activation", choices=["sigmoid", "relu"], default="sigmoid", help="for --trajectory")
    return p.parse_args(argv)


def execute(args: argparse.Namespace) -> int:
    if not jax_available():
        return fail(NOT_INSTALLED)
    if args.trajectory:
        for key, value in trajectory(args.trajectory, args.hidden, args.seed, args.activation).items():
            print(f"{key:24} {value:.3g}" if isinstance(value, float) else f"{key:24} {value}")
    else:
        print(render(time_steps(args.rounds, args.steps, args.hidden, 100, args.seed), args.steps))
    return 0


def main(argv: list[str] | None = None) -> int:
    return command(argv, parse_args, execute)  # the shared exit statuses, signals and one-line errors


if __name__ == "__main__":
    sys.exit(main())
