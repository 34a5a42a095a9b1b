"""The book's two-layer net in JAX, holding its weights on one device, with compile time kept apart.

Reference: Deep Learning from Scratch, ch. 4/5 (the same net as ``impl_numpy``).
The math lives in :mod:`impl_jax.jax_functions`; this class validates inputs, keeps the
weights on the device (book layout, no transpose), and compiles each function ahead
of time (``jax.jit(f).lower(...).compile()``) once per input shape, timing the
compilation so that it is never mixed into a per-step time.

Usage::

    net = JaxTwoLayerNet.from_params(params, activation="sigmoid", dtype="float64", device="cpu")
    grads = net.gradient(x, t)                        # dict of float64 numpy arrays, book layout
    seconds = net.compile_step(xd, td)                # compile once, apart from the steps
    loss = net.train_step(xd, td, 0.1)                # 0-d device array, no host sync
    result = net.train_stream(x_train, t_train, x_test, t_test, batches, 0.1, eval_at=[0, 15])

Training a whole batch stream runs ``chunk`` steps per call of one compiled loop
(:func:`impl_jax.jax_functions.train_chunk`). On a 2-core CPU at 784-50-10, batch 100,
it took 0.82-1.01× the time per step of a compiled step called from a Python loop
(medians of 15 interleaved rounds; `python -m compare.jax_bench` measures both),
the Python loop paying a dispatch per step; it also keeps the whole run on the device.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial

import jax
import numpy as np

from impl_jax import jax_functions as F
from impl_jax.train import StreamResult, check_batches, chunk_plan, eval_flags
from impl_numpy import validation

DTYPES = ("float64", "float32")
DEVICES = ("auto", "cpu", "gpu")
DEFAULT_CHUNK = 250  # steps per call of the compiled training loop


def resolve_dtype(dtype: str | np.dtype | type) -> np.dtype:
    """``"float64"``/``"float32"`` (or the numpy dtype of that name) as a numpy dtype."""
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = str(dtype)
    if dtype is None or name not in DTYPES:
        raise validation.ConfigError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    return np.dtype(name)


def _gpus() -> list[jax.Device]:
    try:
        return jax.devices("gpu")
    except RuntimeError:  # no GPU backend in this jaxlib, or no GPU
        return []


def available_devices() -> list[str]:
    """The devices this jax can use here, CPU first."""
    return ["cpu", "gpu"] if _gpus() else ["cpu"]


def resolve_device(device: str) -> jax.Device:
    """``"auto"`` picks a GPU when jax sees one, else the CPU; ``"gpu"`` must exist."""
    if device not in DEVICES:
        raise validation.ConfigError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    gpus = _gpus()
    if device == "gpu" and not gpus:
        raise validation.ConfigError("device 'gpu' requested but jax sees no GPU here (a CPU-only jaxlib?)")
    if device in ("gpu", "auto") and gpus:
        return gpus[0]
    return jax.devices("cpu")[0]


class JaxTwoLayerNet:
    """``act(x W1 + b1) W2 + b2`` giving logits, trained by SGD on the exact cross-entropy.

    ``JaxTwoLayerNet(784, 50, 10)`` starts from the book's initial weights
    (:func:`impl_numpy.init_params`, seeded); :meth:`from_params` starts from given
    (shared) weights. Neither uses JAX's random numbers.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        weight_init_std: float = 0.01,
        *,
        activation: str = "sigmoid",
        device: str = "cpu",
        dtype: str | np.dtype | type = "float64",
        seed: int = 0,
        params: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        self.activation = validation.check_activation(activation)
        self.dtype = resolve_dtype(dtype)
        self.device = resolve_device(device)
        if params is None:
            from impl_numpy import init_params

            params = init_params(input_size, hidden_size, output_size, weight_init_std=weight_init_std, seed=seed)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self._executables: dict[tuple, tuple[Callable, float]] = {}  # key -> (executable, compile seconds)
        self._lrs: dict[float, jax.Array] = {}  # learning rate -> 0-d device array
        self.load_params(params)

    @classmethod
    def from_params(
        cls,
        params: Mapping[str, np.ndarray],
        *,
        activation: str = "sigmoid",
        dtype: str | np.dtype | type = "float64",
        device: str = "cpu",
    ) -> JaxTwoLayerNet:
        """A net holding a device copy of book-layout numpy ``params`` cast to ``dtype``."""
        p = validation.check_params(params)
        (d, h), c = p["W1"].shape, p["W2"].shape[1]
        return cls(d, h, c, activation=activation, device=device, dtype=dtype, params=p)

    @property
    def platform(self) -> str:
        """``"cpu"`` or ``"gpu"``: where the weights live."""
        return "cpu" if self.device.platform == "cpu" else "gpu"

    def load_params(self, params: Mapping[str, np.ndarray]) -> None:
        """Copy book-layout numpy params onto the device in this net's dtype."""
        p = validation.check_params(params)
        expected = (self.input_size, self.hidden_size, self.output_size)
        got = (*p["W1"].shape, p["W2"].shape[1])
        if got != expected:
            raise validation.ShapeError(
                f"params are for a {got[0]}-{got[1]}-{got[2]} net, this one is {'-'.join(map(str, expected))}"
            )
        self._params = {k: self._put(np.array(p[k], dtype=self.dtype)) for k in validation.PARAM_NAMES}

    def export_params(self) -> dict[str, np.ndarray]:
        """Book-layout float64 numpy copies: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)."""
        return _host64(self._params)

    def _put(self, a: np.ndarray) -> jax.Array:
        return jax.device_put(a, self.device)

    # -- inputs ------------------------------------------------------------------------
    def to_device_batch(self, x: object, t: object) -> tuple[jax.Array, jax.Array]:
        """Validate a numpy batch and move it to the device: x (N, D) in the net's dtype, t (N,) int32 indices."""
        xa, ta = validation.check_batch(x, t, self.input_size, self.output_size)
        return self._put(xa.astype(self.dtype)), self._put(ta.astype(np.int32))

    # -- compilation -------------------------------------------------------------------
    def _executable(self, name: str, fn: Callable, args: tuple, donate: tuple[int, ...] = ()) -> tuple[Callable, float]:
        """``fn`` compiled for the shapes and dtypes of ``args`` (once), and the seconds that compilation took."""
        key = (name, *((a.shape, a.dtype) for a in jax.tree.leaves(args)))
        if key not in self._executables:
            start = time.perf_counter()
            exe = jax.jit(fn, donate_argnums=donate).lower(*args).compile()
            self._executables[key] = (exe, time.perf_counter() - start)
        return self._executables[key]

    def _lr(self, learning_rate: float) -> jax.Array:
        """The learning rate as a 0-d device array of the net's dtype (kept: a step loop makes no transfer)."""
        if learning_rate not in self._lrs:
            self._lrs[learning_rate] = self._put(np.asarray(learning_rate, dtype=self.dtype))
        return self._lrs[learning_rate]

    # -- forward and gradient ------------------------------------------------------------
    def loss(self, x: object, t: object) -> float:
        """Exact mean cross-entropy, as a Python float."""
        xd, td = self.to_device_batch(x, t)
        exe, _ = self._executable("loss", partial(F.loss, activation=self.activation), (self._params, xd, td))
        return float(exe(self._params, xd, td))

    def accuracy(self, x: object, t: object) -> float:
        """Fraction of rows whose largest logit is the true class."""
        xd, td = self.to_device_batch(x, t)
        exe, _ = self._executable("correct", partial(F.correct, activation=self.activation), (self._params, xd, td))
        return int(exe(self._params, xd, td)) / xd.shape[0]

    def gradient_call(self, x: object, t: object) -> tuple[Callable[[], dict[str, jax.Array]], float]:
        """A zero-argument call giving the gradient on the device (asynchronously), and its compile seconds.

        The call returns device arrays as soon as the work is queued; wait for
        them with ``jax.block_until_ready``. It differentiates at the weights held
        now; a later training step frees them (they are donated to the update).
        """
        xd, td = self.to_device_batch(x, t)
        exe, seconds = self._executable(
            "gradient", partial(F.gradient, activation=self.activation), (self._params, xd, td)
        )
        params = self._params
        return (lambda: exe(params, xd, td)), seconds

    def gradient(self, x: object, t: object) -> dict[str, np.ndarray]:
        """``jax.grad`` of :meth:`loss` as float64 numpy arrays in book layout."""
        call, _ = self.gradient_call(x, t)
        return _host64(call())

    # -- training ----------------------------------------------------------------------
    def _step_executable(self, x: jax.Array, t: jax.Array, lr: jax.Array) -> tuple[Callable, float]:
        step = partial(F.sgd_step, activation=self.activation)
        return self._executable("step", step, (self._params, x, t, lr), donate=(0,))

    def compile_step(self, x: jax.Array, t: jax.Array) -> float:
        """Compile :meth:`train_step` for batches shaped like ``(x, t)`` (once); the seconds compiling took."""
        return self._step_executable(x, t, self._lr(0.0))[1]

    def train_step(self, x: jax.Array, t: jax.Array, learning_rate: float) -> jax.Array:
        """One SGD step on a device batch (:meth:`to_device_batch`); the pre-update loss, 0-d, no host sync."""
        lr = self._lr(learning_rate)
        exe, _ = self._step_executable(x, t, lr)
        self._params, value = exe(self._params, x, t, lr)
        return value

    def train_stream(
        self,
        x_train: np.ndarray,
        t_train: np.ndarray,
        x_test: np.ndarray,
        t_test: np.ndarray,
        batches: np.ndarray,
        learning_rate: float,
        eval_at: Iterable[int] = (),
        snapshot_at: Iterable[int] = (),
        *,
        chunk: int = DEFAULT_CHUNK,
        time_budget_s: float | None = None,
        on_chunk: Callable[[int], None] | None = None,
    ) -> StreamResult:
        """Train along ``batches`` (steps, B): step i uses rows ``batches[i]`` of the training set.

        Losses (before each update) stay on the device until the end. After step
        i's update, if i is in ``eval_at``, accuracy is measured on the full train
        and test sets (on the device); if i + 1 is in ``snapshot_at``, a float64
        host copy of the params is kept. The final params are always kept, as the
        snapshot at the number of steps run. With ``time_budget_s``, the run stops
        after the chunk of steps that uses the budget up; ``on_chunk(steps_done)``
        is called after each chunk (both wait for the chunk to finish).
        """
        xs, ts, xv, tv, batches = self._checked_stream(x_train, t_train, x_test, t_test, batches, chunk)
        start_time = time.perf_counter()
        steps = batches.shape[0]
        data = tuple(
            self._put(a)
            for a in (xs.astype(self.dtype), ts.astype(np.int32), xv.astype(self.dtype), tv.astype(np.int32))
        )
        dev_batches = self._put(batches.astype(np.int32))  # (steps, B)
        flags = self._put(eval_flags(eval_at, steps))  # (steps,)
        lr = self._lr(learning_rate)
        run = partial(F.train_chunk, activation=self.activation, chunk=chunk)
        zero = self._put(np.int32(0))
        exe, compile_seconds = self._executable(
            f"train_chunk{chunk}", run, (self._params, data, dev_batches, flags, zero, zero, lr), donate=(0,)
        )
        result = StreamResult(compile_seconds=compile_seconds)
        parts: list[tuple[int, jax.Array, jax.Array]] = []  # (count, losses (chunk,), counts (chunk, 2)) on device
        done = 0
        for first, count, snapshot in chunk_plan(steps, snapshot_at, chunk):
            self._params, losses, counts = exe(
                self._params, data, dev_batches, flags, self._put(np.int32(first)), self._put(np.int32(count)), lr
            )
            parts.append((count, losses, counts))
            done = first + count
            if snapshot:
                result.snapshots[done] = self.export_params()
            if on_chunk is not None or time_budget_s is not None:
                losses.block_until_ready()
            if on_chunk is not None:
                on_chunk(done)
            if time_budget_s is not None and time.perf_counter() - start_time >= time_budget_s:
                break
        result.collect(jax.device_get(parts), eval_at, done, (xs.shape[0], xv.shape[0]))
        result.snapshots[done] = self.export_params()
        return result

    def _checked_stream(self, x_train, t_train, x_test, t_test, batches, chunk: int) -> tuple:
        """The inputs of :meth:`train_stream`, validated: (x_train, t_train, x_test, t_test, batches)."""
        xs, ts = validation.check_batch(x_train, t_train, self.input_size, self.output_size)
        xv, tv = validation.check_batch(x_test, t_test, self.input_size, self.output_size)
        batches = check_batches(batches, xs.shape[0])
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
            raise validation.ConfigError(f"chunk must be a positive integer, got {chunk!r}")
        return xs, ts, xv, tv, batches


def _host64(params: Mapping[str, jax.Array]) -> dict[str, np.ndarray]:
    """Float64 numpy copies of device arrays (one transfer each, waits for them)."""
    return {k: np.array(jax.device_get(v), dtype=np.float64) for k, v in params.items()}
