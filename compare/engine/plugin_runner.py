"""Runners for a plugged-in implementation (``--impl``): the same protocol as the project's own nets.

One :class:`PluginRunner` per method the user's class offers:

- ``gradient`` (their hand-written backward; kind ``exact``),
- ``numerical_gradient`` (theirs; kind ``numerical``), and
- ``autograd`` through a torch module (kind ``exact``).

:func:`plugin_runners` builds them from a loaded spec and lists what the class does not
provide. Each runner holds the shared initial weights and writes them, in place, into the
user's own arrays before every ``gradient`` and at the start of ``train``, so runners of
one class never see each other's state.

Training is SGD on the user's object along the shared batch stream (``W -= lr * grad`` in
place). Each step asks for the gradient first and the loss after it (at the same weights), so a
``gradient`` that reuses the last forward pass instead of running its own gets the previous
step's and the run shows it. The recorded loss is the user's ``loss`` when it is the exact
cross-entropy of their ``predict``; otherwise (the book's ``1e-7``, or a loss that is not a
cross-entropy) the exact cross-entropy of their ``predict`` (logits or probabilities alike), so
that the losses compare with the reference methods. ``loss_source`` says which and why. A run
that diverges (a loss or gradient that is not finite, or a loss 100× the first) stops at that
step and keeps what it recorded up to it; a crash at step k is an
:class:`ImplementationFailure` naming the step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from compare.data import Dataset
from compare.engine.protocol import MethodInfo
from compare.engine.training import SteppedRunner, diverged
from dlfs_gradcheck.usercode import BookNet, ImplementationFailure, LoadedImpl, NotProvided, TorchModuleNet, build_net
from dlfs_gradcheck.usercode.checks import PARAM_NAMES

Net = BookNet | TorchModuleNet
FAMILY = "plugin"


class PluginRunner(SteppedRunner):
    """One method (``gradient``, ``numerical_gradient``) of a user's net behind the Runner protocol."""

    def __init__(
        self, net: Net, method: str, params: Mapping[str, np.ndarray], label: str, activation: str = "sigmoid"
    ) -> None:
        self.net = net
        self.method = method
        self.activation = activation  # the run's: the book's net stands in for a class without predict or loss
        self.initial = {k: np.array(params[k], dtype=np.float64) for k in PARAM_NAMES}
        kind = "numerical" if method == "numerical_gradient" else "exact"
        self.info = MethodInfo(label, FAMILY, kind, net.dtype.name, net.device, net.framework)
        # The loss this method's gradient differentiates, i.e. the reference to compare it with:
        # a numerical gradient through the book's loss converges to the gradient of that loss.
        self.reference_loss = "book" if kind == "numerical" and net.loss_kind == "book" else "exact"
        self.loss_source = _loss_source(net)
        self.findings = net.findings(method)  # what probing found wrong, for the gradient section's diagnoses

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """The user's gradient at the initial weights: float64 copies, book layout."""
        self.net.load(self.initial)
        return self.net.gradient(x, t, self.method)

    def _stand_in_loss(self, x: np.ndarray, t: np.ndarray) -> float:
        """The book's net (the run's activation) at the user's weights: for a class with neither predict nor loss."""
        from impl_numpy import TwoLayerNet

        return TwoLayerNet.from_params(self.net.params(), activation=self.activation).loss(x, t)

    def _stand_in_accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        from impl_numpy import TwoLayerNet

        return TwoLayerNet.from_params(self.net.params(), activation=self.activation).accuracy(x, t)

    def timed_gradient(self, x: np.ndarray, t: np.ndarray) -> tuple[Callable[[], object], Callable[[], None] | None]:
        """One native call of the user's method (labels in the format it takes), and no sync.

        The timed call is the user's own method with nothing around it but the containment of
        what it raises (no state is saved or restored: that would be timed too).
        """
        net = self.net
        net.load(self.initial)
        net.gradient(x, t, self.method)  # settles the label format (and fails early)
        if isinstance(net, TorchModuleNet):
            return (lambda: net.raw_gradient(self.method, x, t)), None
        func = net.box.guarded(self.method, getattr(net.net, self.method))
        labels = net.labels_for(self.method, t)
        return (lambda: func(x, labels)), None

    # -- the step interface of the one training loop (compare.engine.training) ---------------------
    def begin(self, data: Dataset, batches: np.ndarray) -> None:
        """The shared initial weights written into the user's arrays; the loss and accuracy this run records."""
        net = self.net
        net.load(self.initial)
        self._x_train = data.x_train.astype(net.dtype, copy=False)  # (N, D)
        self._x_test = data.x_test.astype(net.dtype, copy=False)  # (M, D)
        self._t_train, self._t_test, self._batches = data.t_train, data.t_test, batches
        self._loss = net.loss if self.loss_source.startswith("their loss") else net.exact_loss
        self._accuracy = net.accuracy
        if not {"predict", "loss"} & set(net.provided):  # only params and a gradient: the book's net stands in
            self._loss, self._accuracy = self._stand_in_loss, self._stand_in_accuracy
        self._first: float | None = None

    def session(self) -> contextlib.AbstractContextManager:
        stack = contextlib.ExitStack()
        stack.enter_context(self.net.session())
        stack.enter_context(np.errstate(over="ignore", invalid="ignore", divide="ignore"))
        return stack

    def step(self, i: int, learning_rate: float) -> float:
        """The gradient first, the loss after it (same weights); no update once the loss says the run diverged."""
        xb, tb = self._x_train[self._batches[i]], self._t_train[self._batches[i]]  # (B, D), (B,)
        try:
            grads, failure = self.net.raw_gradient(self.method, xb, tb), None
        except ImplementationFailure as e:
            grads, failure = None, e
        loss = _loss_or_nan(self._loss, xb, tb)
        self._first = loss if self._first is None else self._first
        if diverged(loss, self._first):  # the loop stops here
            return loss
        if failure is not None:  # the loss is fine but the gradient is not: their bug, not divergence
            raise failure
        self.net.sgd_step(grads, learning_rate)
        return loss

    def accuracy(self) -> tuple[float, float]:
        return self._accuracy(self._x_train, self._t_train), self._accuracy(self._x_test, self._t_test)

    def export(self) -> dict[str, np.ndarray]:
        return self.net.params()


def _loss_or_nan(step_loss: Callable[[np.ndarray, np.ndarray], float], xb: np.ndarray, tb: np.ndarray) -> float:
    """The step's loss; NaN when their loss returned one (a diverged run, not a crash)."""
    try:
        return step_loss(xb, tb)
    except ImplementationFailure as e:
        if e.error == "non-finite":
            return float("nan")
        raise


def _loss_source(net: Net) -> str:
    """Which loss ``train`` records, and why (one line)."""
    if isinstance(net, TorchModuleNet):
        return "the exact cross-entropy of their forward (F.cross_entropy)"
    if net.loss_kind == "exact" and "loss" in net.provided:
        return "their loss (the exact cross-entropy of their predict)"
    if "predict" not in net.provided and "loss" in net.provided:
        return "their loss (no predict to compute the exact cross-entropy from)"
    if "predict" not in net.provided:
        return "the exact cross-entropy of the book's net at their weights (they have neither predict nor loss)"
    why = {
        "book": "their loss adds the book's 1e-7 inside the log",
        "other": "their loss is not the cross-entropy of their predict",
        "random": "their loss returns different values at the same point",
        None: "they have no loss",
    }[net.loss_kind if "loss" in net.provided else None]
    return f"the exact cross-entropy of their predict ({why})"


@dataclass
class PluginSet:
    """What one ``--impl`` brings: its runners, what it does not provide, and what was found out."""

    loaded: LoadedImpl
    net: Net
    runners: list[PluginRunner]
    not_provided: list[str]  # book methods the class lacks ("numerical_gradient", ...)
    notes: list[str] = field(default_factory=list)  # one line each: labels, loss kind, arrays not read


def plugin_runners(
    loaded: LoadedImpl,
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    t: np.ndarray,
    *,
    weight_init_std: float = 0.01,
    dtype: str | None = None,
    activation: str = "sigmoid",
) -> PluginSet:
    """Build the user's net at the shape of ``params``, probe it on the batch ``(x, t)``, and wrap each method.

    Raises :class:`SpecError` (bad usage) or :class:`ImplementationFailure` (their constructor,
    ``predict`` or ``loss`` crashed while probing).
    """
    d, h = params["W1"].shape
    c = params["W2"].shape[1]
    net = build_net(loaded, d, h, c, weight_init_std, dtype=dtype)
    net.load(params)
    net.probe(x, t)
    runners = []
    for method in ("gradient", "numerical_gradient"):
        if method in net.provided:
            label = loaded.label if method == "gradient" else f"{loaded.label}[numerical]"
            runners.append(PluginRunner(net, method, params, label, activation))
    missing = [m for m in net.not_provided]
    notes = [n for n in (net.found(), *net.notes) if n]
    if runners:
        notes.append(f"training records {runners[0].loss_source}")
    return PluginSet(loaded, net, runners, missing, notes)


__all__ = ["FAMILY", "MethodInfo", "NotProvided", "PluginRunner", "PluginSet", "plugin_runners"]
