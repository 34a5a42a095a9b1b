"""Gradient-check problems for a user's own net: a book-style object or a torch module.

Usage (a CI test is two lines)::

    from dlfs_gradcheck import book_net_problem
    book_net_problem(TwoLayerNet(784, 50, 10), x, t).assert_ok(mode="fast")

The code under test is the user's ``gradient`` (or ``numerical_gradient``, or autograd
through a torch module); the reference differentiates a cross-entropy of the user's *own*
forward pass (``predict``, whether it returns logits as the book's ch. 5 does or softmax
probabilities as ch. 4 does: found by probing, as the harness does): the exact one
(``loss="exact"``, what backprop differentiates) or the book's with ``1e-7`` inside the log
(``loss="book"``, what the book's ``numerical_gradient`` differentiates). Every evaluation
writes the point into the user's arrays in place and puts their weights back afterwards, bit
for bit: the object is never left at a perturbed point. Labels are passed in the format each
method takes. ``gradient`` is called right after a forward pass at other weights, so one that
reuses the last forward pass is caught (and said so). A crash is an
:class:`ImplementationFailure` naming the line in the user's file.

The reference runs in float64. A float32 book-style net cannot hold float64 points, and the
complex step needs a complex-safe forward pass that a user's float arrays cannot hold either:
for both, the reference is the project's numpy forward pass with the hidden layer the user's
``predict`` was found to match (sigmoid or ReLU; the same function whether their ``predict``
returns logits or probabilities), and a net matching neither is refused.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from dlfs_gradcheck.diagnose import Context
from dlfs_gradcheck.errors import ConfigError, DtypeError
from dlfs_gradcheck.problems import LOSSES, GradProblem, numpy_loss_fn
from dlfs_gradcheck.usercode import BookNet, TorchModuleNet
from dlfs_gradcheck.usercode.checks import BOOK_EPS, book_loss, book_loss_gradient, exact_loss


def _float64_twin(net: BookNet | TorchModuleNet) -> BookNet | TorchModuleNet | None:
    """The net itself in float64; a float64 copy of a float32 torch module; None for a float32 book net."""
    if net.dtype == np.float64:
        return net
    if isinstance(net, TorchModuleNet):
        twin = TorchModuleNet(copy.deepcopy(net.module), label=net.label, dtype="float64", sandbox=net.box)
        twin.load(net.params())
        return twin
    return None


def _reference(net: BookNet | TorchModuleNet, x: np.ndarray, t: np.ndarray, loss: str) -> Callable[[dict], float]:
    """``params -> loss`` of the user's own predict at ``params`` (their weights put back after).

    A float32 torch module's reference is a float64 copy of it (float32 differences are
    noise); a float32 book-style net's is the numpy net with its activation.
    """
    of_output = exact_loss if loss == "exact" else book_loss
    complex_loss = numpy_loss_fn(x, t, activation=net.activation, loss=loss) if net.activation else None
    twin = _float64_twin(net)
    if isinstance(net, BookNet) and "predict" not in net.provided and complex_loss is not None:
        return complex_loss  # no forward pass of theirs: the book's net at their weights
    if twin is None:
        if complex_loss is None and isinstance(net, BookNet) and net.faults:
            raise net.faults[0]  # what probing found wrong (predict reads no params ...) is why there is no reference
        if complex_loss is None:
            raise DtypeError(
                f"{net.label}: float32 params and a predict that is not the book's sigmoid or ReLU net: no float64 "
                "reference (write the class in float64 to check it)"
            )
        return complex_loss
    net = twin

    def loss_fn(q: dict[str, np.ndarray]) -> float:
        if any(np.iscomplexobj(v) for v in q.values()):
            if complex_loss is None:
                raise DtypeError(
                    f"{net.label}: the complex step needs a complex-safe forward pass; its predict is not the book's "
                    "sigmoid or ReLU net, so use reference='central' or 'richardson'"
                )
            return complex_loss(q)
        saved = net.params()
        try:
            net.load(q)
            with net.session():
                return of_output(net.output_of(x), t, net.output) if isinstance(net, BookNet) else net.loss(x, t)
        finally:
            net.load(saved)

    return loss_fn


def _problem(net: BookNet | TorchModuleNet, x: np.ndarray, t: np.ndarray, loss: str, method: str) -> GradProblem:
    if loss not in LOSSES:
        raise ConfigError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    if method not in net.provided:
        raise ConfigError(f"{net.label} has no {method}")
    t = np.asarray(t)
    t = np.argmax(t, axis=1) if t.ndim == 2 else t  # class indices; each method gets the format it takes
    net.probe(x, t)

    def grad_fn(q: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        saved = net.params()
        try:
            net.load(q)
            return {k: v.astype(net.dtype) for k, v in net.gradient(x, t, method).items()}
        finally:
            net.load(saved)

    point = {k: v.astype(net.dtype) for k, v in net.params().items()}
    label = f"{net.label}.{method}" + (" vs the book's loss (1e-7)" if loss == "book" else "")
    notes = [n for n in (net.found(), *net.notes) if n]
    if net.not_read:  # the output does not read these arrays: say so instead of all-zero references
        notes.append(f"the output ignores {', '.join(net.not_read)}: their reference gradient will be zero")
    gap = None
    if net.activation:  # the book's net: the 1e-7's own effect on the gradient is known
        book, exact = (book_loss_gradient(point, x, t, net.activation, eps) for eps in (BOOK_EPS, 0.0))
        gap = {k: book[k] - exact[k] for k in exact}
    context = Context(batch_size=len(x), features=x.shape[1], log_loss=True, log_gap=gap)
    reference = _reference(net, x, t, loss)
    return GradProblem(reference, grad_fn, point, label, context, tuple(notes), net.findings(method))


def book_net_problem(
    net: object,
    x: np.ndarray,
    t: np.ndarray,
    *,
    loss: str = "exact",
    method: str | None = None,
    activation: str | None = None,
) -> GradProblem:
    """The gradient of a book-style object (``params``, ``predict``, ``gradient`` ...) at its current weights.

    Parameters
    ----------
    net : the user's object (or a :class:`dlfs_gradcheck.usercode.BookNet` around it)
    x : ndarray (N, D)
    t : ndarray (N,) class indices, or (N, C) one-hot
    loss : {"exact", "book"}
        The loss of the user's ``predict`` the reference differentiates.
    method : {"gradient", "numerical_gradient"}; default ``gradient`` if the class has one.
    activation : {"sigmoid", "relu"}, optional
        For a class without ``predict`` only: the hidden layer of the book's net whose loss the
        reference differentiates at the class's weights (with a ``predict``, its own forward pass
        is the reference).

    Raises :class:`dlfs_gradcheck.usercode.SpecError` when ``net`` lacks the book's API and
    :class:`ImplementationFailure` when its ``predict`` crashes while probing.
    """
    wrapped = net if isinstance(net, BookNet) else BookNet(net)
    chosen = method or ("gradient" if "gradient" in wrapped.provided else "numerical_gradient")
    if "predict" not in wrapped.provided:
        if activation is None:
            raise ConfigError(
                f"{wrapped.label} has no predict: pass activation='sigmoid' or 'relu' (the book's net at its weights "
                "is then the reference)"
            )
        wrapped.activation = activation
    return _problem(wrapped, np.asarray(x), t, loss, chosen)


def torch_module_net_problem(module: object, x: np.ndarray, t: np.ndarray) -> GradProblem:
    """Autograd through a torch module with two ``nn.Linear`` layers (see :mod:`dlfs_gradcheck.usercode.torchnet`).

    The point and the gradients are in the book's layout (``W1 = linear1.weight.T``); the
    reference is the exact cross-entropy of the module's own forward pass in its dtype.
    """
    wrapped = module if isinstance(module, TorchModuleNet) else TorchModuleNet(module)
    return _problem(wrapped, np.asarray(x), t, "exact", "gradient")


__all__ = ["book_net_problem", "torch_module_net_problem"]
