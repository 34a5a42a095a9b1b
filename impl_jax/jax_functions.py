"""The net's math as pure JAX functions of a params dict: forward pass, loss, SGD step, a chunk of training.

Reference: Deep Learning from Scratch, ch. 4/5 (the same net as ``impl_numpy``).
Parameters are a dict in the book's layout, W1 (D, H), b1 (H,), W2 (H, C), b2 (C,),
so no transpose happens anywhere. Nothing here is compiled yet: :mod:`impl_jax.jax_two_layer_net`
wraps these functions in ``jax.jit`` and compiles them ahead of time.

The loss is the exact mean cross-entropy ``mean(logsumexp(z) - z[t])`` of the
logits, the function ``impl_numpy``'s backprop differentiates; ``jax.grad`` of it
agrees with that backprop to float64 rounding. Matrix products ask for
``Precision.HIGHEST`` so that a GPU computes float32 products in float32 rather
than in TF32 (on a CPU it changes nothing).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

Params = dict[str, jax.Array]  # book layout: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)
Data = tuple[jax.Array, jax.Array, jax.Array, jax.Array]  # x_train (N, D), t_train (N,), x_test (M, D), t_test (M,)

HIGHEST = lax.Precision.HIGHEST


def predict(params: Params, x: jax.Array, activation: str) -> jax.Array:
    """Logits (N, C) of inputs ``x`` (N, D): ``act(x W1 + b1) W2 + b2``."""
    a1 = jnp.matmul(x, params["W1"], precision=HIGHEST) + params["b1"]  # (N, H)
    z1 = jax.nn.sigmoid(a1) if activation == "sigmoid" else jax.nn.relu(a1)  # (N, H)
    return jnp.matmul(z1, params["W2"], precision=HIGHEST) + params["b2"]  # (N, C)


def cross_entropy(z: jax.Array, t: jax.Array) -> jax.Array:
    """Exact mean cross-entropy of logits ``z`` (N, C) against class indices ``t`` (N,)."""
    picked = jnp.take_along_axis(z, t[:, None], axis=1)[:, 0]  # (N,) true-class logits
    return jnp.mean(jax.nn.logsumexp(z, axis=1) - picked)


def loss(params: Params, x: jax.Array, t: jax.Array, activation: str) -> jax.Array:
    """The loss of the net on the batch ``(x, t)``: a 0-d array of the params' dtype."""
    return cross_entropy(predict(params, x, activation), t)


def correct(params: Params, x: jax.Array, t: jax.Array, activation: str) -> jax.Array:
    """How many rows' largest logit is the true class (0-d int; the first maximum wins, as in numpy).

    A count, not a fraction: the caller divides by N on the host, as numpy's mean of
    booleans does (XLA turns a division by a constant N into a multiplication by
    1/N, which can differ in the last bit, e.g. 150/1500).
    """
    hits = jnp.argmax(predict(params, x, activation), axis=1) == t  # (N,)
    return jnp.sum(hits, dtype=jnp.int64)


def gradient(params: Params, x: jax.Array, t: jax.Array, activation: str) -> Params:
    """``jax.grad`` of :func:`loss` with respect to the params (same layout and dtype)."""
    return jax.grad(loss)(params, x, t, activation)


def sgd_step(
    params: Params, x: jax.Array, t: jax.Array, learning_rate: jax.Array, activation: str
) -> tuple[Params, jax.Array]:
    """One SGD step ``p - lr * grad``; returns the new params and the loss *before* the update."""
    value, grads = jax.value_and_grad(loss)(params, x, t, activation)
    new = {k: params[k] - learning_rate * grads[k] for k in params}
    return new, value


def train_chunk(
    params: Params,
    data: Data,
    batches: jax.Array,
    eval_flags: jax.Array,
    start: jax.Array,
    count: jax.Array,
    learning_rate: jax.Array,
    *,
    activation: str,
    chunk: int,
) -> tuple[Params, jax.Array, jax.Array]:
    """Steps ``start .. start + count - 1`` of a batch stream (``count <= chunk``) in one compiled loop.

    Parameters
    ----------
    batches : (steps, B) int
        Row indices into ``x_train``; step i uses ``batches[i]``.
    eval_flags : (steps,) bool
        True at the steps after whose update accuracy is measured on the full
        train and test sets.
    start, count : 0-d int
        Traced, so one compiled loop serves every chunk of a run whatever its length.

    Returns
    -------
    params after the last step, losses (chunk,) (the loss before each step's
    update; NaN past ``count``), accuracies (chunk, 2) (train, test; NaN where
    not measured).
    """
    x_train, t_train, x_test, t_test = data
    dtype = params["W1"].dtype
    no_eval = jnp.full((2,), jnp.nan, dtype=jnp.float64)

    def evaluate(p: Params) -> jax.Array:
        counts = jnp.stack([correct(p, x_train, t_train, activation), correct(p, x_test, t_test, activation)])
        return counts.astype(jnp.float64)  # (2,), exact below 2**53

    def body(i: jax.Array, carry: tuple[Params, jax.Array, jax.Array]) -> tuple[Params, jax.Array, jax.Array]:
        p, losses, counts = carry
        step = start + i
        idx = batches[step]  # (B,)
        p, value = sgd_step(p, x_train[idx], t_train[idx], learning_rate, activation)
        acc = lax.cond(eval_flags[step], evaluate, lambda _: no_eval, p)  # (2,)
        return p, losses.at[i].set(value), counts.at[i].set(acc)

    losses = jnp.full((chunk,), jnp.nan, dtype=dtype)  # (chunk,)
    counts = jnp.full((chunk, 2), jnp.nan, dtype=jnp.float64)  # (chunk, 2)
    return lax.fori_loop(0, count, body, (params, losses, counts))
