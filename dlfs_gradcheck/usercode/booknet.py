"""A user's book-style net behind one small interface: :class:`BookNet`, for the harness and the checker alike.

The book's API (Deep Learning from Scratch, ch. 4 and 5): ``__init__(input_size, hidden_size,
output_size, weight_init_std=0.01)`` (or without the last), a ``params`` dict of numpy arrays
W1 (D, H), b1 (H,), W2 (H, C), b2 (C,), and ``predict``, ``loss``, ``accuracy``, ``gradient``,
``numerical_gradient``. Whatever exists is used; the rest is listed in ``not_provided``. Usage::

    net = BookNet.build(TwoLayerNet, 784, 50, 10, sandbox=loaded.sandbox)
    net.load(shared_params); net.probe(x, t)    # weights written IN PLACE; what the class does
    grads = net.gradient(x, t)                   # float64 copies, book layout, checked

What real student code does, handled here:

- ``predict`` returns logits (the book's ch. 5) or softmax probabilities (ch. 4): which one is
  found by probing (:mod:`dlfs_gradcheck.usercode.probing`), and every loss of the user's
  output takes it into account, so one class gets one verdict in the harness and the checker;
- labels: each method is tried with one-hot rows (the book's scripts) and with class
  indices on its first call; the format that works is kept (ch. 4's ``gradient`` needs
  one-hot, ch. 5's layers take both; see :mod:`dlfs_gradcheck.usercode.labelforms`);
- weights are written in place (ch. 5's layers hold the ``params`` arrays themselves);
  a method that replaces or changes ``params`` is a failure, its arrays put back;
- ``gradient`` is called right after a forward pass at *other* weights (:meth:`gradient`), so one
  that reuses the last forward is caught; see :mod:`dlfs_gradcheck.usercode.callpatterns`;
- every method gets copies of ``x`` and ``t``: changing them in place is a failure (the caller's batch is its own);
- every call goes through the file's :class:`~dlfs_gradcheck.usercode.isolation.Sandbox`: anything raised
  (``sys.exit``, a numerical gradient past its time limit) is an :class:`ImplementationFailure` naming their line.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import numpy as np

from dlfs_gradcheck.usercode import labelforms, probing
from dlfs_gradcheck.usercode.callpatterns import forward_elsewhere
from dlfs_gradcheck.usercode.checks import (
    PARAM_NAMES,
    as_logits,
    binds,
    book_shapes,
    check_gradients,
    check_logits,
    check_scalar,
    exact_loss,
    find_params,
    unchanged,
)
from dlfs_gradcheck.usercode.failures import ImplementationFailure, NotProvided, SpecError, definition_of
from dlfs_gradcheck.usercode.isolation import Sandbox
from dlfs_gradcheck.usercode.readers import built_with_births
from dlfs_gradcheck.usercode.timelimit import numerical_limit

METHODS = ("predict", "loss", "accuracy", "gradient", "numerical_gradient")


class BookNet:
    """A user's object with the book's API; see the module docstring."""

    framework = "user"
    device = "cpu"

    def __init__(self, net: object, *, label: str | None = None, sandbox: Sandbox | None = None) -> None:
        self.net = net
        self.label = label or type(net).__name__
        self.box = sandbox or Sandbox()
        # Looked up without running any property of theirs; a method is anything callable there.
        self.provided = tuple(m for m in METHODS if callable(inspect.getattr_static(net, m, None)))
        self.not_provided = tuple(m for m in METHODS if m not in self.provided)
        if not {"gradient", "numerical_gradient", "loss"} & set(self.provided):
            raise SpecError(f"{self.label}: has neither gradient, numerical_gradient nor loss (the book's API)")
        try:
            held = self.box.call("params", getattr, net, "params")
        except ImplementationFailure as e:
            where = f" ({e.where})" if e.where else ""
            raise SpecError(f"{self.label}: reading params raised {e.message}{where}") from None
        self._dict, self._arrays = find_params(held, self.label)
        d, h = self._arrays["W1"].shape
        self.sizes = (d, h, self._arrays["W2"].shape[1])  # (D, H, C)
        self.shapes = book_shapes(*self.sizes)
        low = [a.dtype for a in self._arrays.values() if a.dtype == np.float32]
        self.dtype = np.dtype(np.float32) if low else np.dtype(np.float64)  # the least precise of the four
        self.formats: dict[str, str] = {}  # method -> "one-hot" | "index"
        self.accepted: dict[str, frozenset[str]] = {}  # method -> every label format it ran with
        # What probing found (dlfs_gradcheck.usercode.probing):
        self.output = "logits"  # what predict returns: "logits" | "probabilities"
        self.activation: str | None = None  # "sigmoid" | "relu" when predict is the book's net with that layer
        self.loss_kind: str | None = None  # "exact" | "book" (1e-7 inside the log) | "other" | "random"
        self.not_read: tuple[str, ...] = ()  # params the output does not change with
        self.births: dict = {}  # id(array) -> where __init__ made it (readers.built_with_births)
        self.deterministic = True  # predict (or, without one, the loss) returns one value at one point
        self.loss_varies = False  # the loss returns different values at one point (a fault of the loss)
        self.stale_gradient = False  # gradient back-propagates the last forward pass instead of its own
        # gradient returns different values at one point on successive calls: every later call of it fails
        self.gradient_fault: ImplementationFailure | None = None
        self.faults: list[ImplementationFailure] = []  # loss or accuracy disagreeing with predict
        self.label_conflict: tuple[str, tuple[str, ...]] | None = None  # (the label format that is wrong, params)
        self.notes: list[str] = []  # one line each, for the report
        self.probed = False

    @classmethod
    def build(
        cls,
        user_cls: type,
        input_size: int,
        hidden_size: int,
        output_size: int,
        weight_init_std: float = 0.01,
        *,
        label: str | None = None,
        sandbox: Sandbox | None = None,
    ) -> BookNet:
        """Construct ``user_cls(input_size, hidden_size, output_size, weight_init_std)`` and wrap it.

        The constructor runs in the sandbox (the book draws its weights with ``np.random.randn``:
        the global random state is put back afterwards).
        """
        box = sandbox or Sandbox()
        args = (input_size, hidden_size, output_size, weight_init_std)
        if not binds(user_cls, *args) and binds(user_cls, *args[:3]):
            args = args[:3]  # no weight_init_std: its own initial weights are replaced by the shared ones anyway
        with box.session():  # where each array it holds was made: a copy is named at its line
            net, births = built_with_births(lambda: box.call("__init__", user_cls, *args))
        wrapped = cls(net, label=label or user_cls.__name__, sandbox=box)
        wrapped.births = births
        if len(args) == 3:
            wrapped.notes.append(
                "__init__ takes no weight_init_std: built with three sizes, then given the shared weights"
            )
        if wrapped.sizes != (input_size, hidden_size, output_size):
            got = ", ".join(f"{k} {v.shape}" for k, v in wrapped._arrays.items())
            want = ", ".join(f"{k} {v}" for k, v in book_shapes(input_size, hidden_size, output_size).items())
            raise SpecError(f"{wrapped.label}: params hold {got}; the book's layout is {want}")
        return wrapped

    # -- state -------------------------------------------------------------------------
    def load(self, params: Mapping[str, np.ndarray]) -> None:
        """Write ``params`` (book layout) into the user's own arrays, in place."""
        for k in PARAM_NAMES:
            self._arrays[k][...] = params[k]

    def params(self) -> dict[str, np.ndarray]:
        """float64 copies of the user's current weights."""
        return {k: self._arrays[k].astype(np.float64) for k in PARAM_NAMES}

    def arrays(self) -> dict[str, np.ndarray]:
        """The user's own four arrays (no copies): what :meth:`load` writes into."""
        return dict(self._arrays)

    @contextmanager
    def kept(self) -> Iterator[None]:
        """Whatever happens inside, the user's arrays and their values are put back bit for bit."""
        saved = {k: self._arrays[k].copy() for k in PARAM_NAMES}
        try:
            yield
        finally:
            self._put_back()
            for k in PARAM_NAMES:
                self._arrays[k][...] = saved[k]

    def _put_back(self) -> list[str]:
        """Re-attach the original dict and arrays if the user's code replaced them; returns which."""
        replaced = [k for k in PARAM_NAMES if dict.get(self._dict, k) is not self._arrays[k]]
        if getattr(self.net, "params", None) is not self._dict:
            self.net.params = self._dict
            replaced = replaced or ["params"]
        for k in PARAM_NAMES:
            dict.__setitem__(self._dict, k, self._arrays[k])
        return replaced

    def session(self):
        """A use of the user's code (numpy's random state is put back when it ends)."""
        return self.box.session()

    # -- calling the user's code ---------------------------------------------------------
    def _invoke(self, method: str, *args: object) -> object:
        """Call the user's method in the sandbox; an exception, or a change to ``params``, is a failure."""
        func = getattr(self.net, method, None)
        if func is None:
            raise NotProvided(f"{self.label} has no {method}")
        saved = {k: self._arrays[k].copy() for k in PARAM_NAMES} if method != "predict" else None
        lent = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)  # the caller's data stays the caller's
        try:
            with numerical_limit(self, method, lent[0]):
                out = self.box.call(method, func, *lent)
        except ImplementationFailure:
            self._put_back()
            raise
        where = definition_of(func)
        replaced = self._put_back()
        pairs = zip(("x", "t"), args, lent, strict=False)
        altered = [n for n, a, b in pairs if isinstance(a, np.ndarray) and not unchanged(a, b)]
        if altered:
            raise ImplementationFailure(
                method,
                f"changed its argument {' and '.join(altered)} in place (the caller's data, used again for the next "
                "call): work on a copy",
                where,
                error="side-effect",
            )
        if replaced:
            raise ImplementationFailure(
                method,
                f"replaced {', '.join(replaced)} with new arrays (write them in place: W[...] = ...)",
                where,
                error="replaced",
                params=tuple(k for k in replaced if k in PARAM_NAMES),
            )
        if saved is not None:
            changed = [k for k in PARAM_NAMES if not np.array_equal(saved[k], self._arrays[k])]
            for k in changed:
                self._arrays[k][...] = saved[k]
            if changed:
                raise ImplementationFailure(
                    method,
                    f"changed {', '.join(changed)} and did not restore them",
                    where,
                    error="side-effect",
                    params=tuple(changed),
                )
        return out

    def labels_for(self, method: str, t: np.ndarray) -> np.ndarray:
        """Class indices ``t`` (N,) in the format ``method`` was found to take (one-hot before any call)."""
        return labelforms.labels(self, t, self.formats.get(method, "one-hot"))

    def sgd_step(self, grads: Mapping[str, np.ndarray], learning_rate: float) -> None:
        """``W -= learning_rate * grad`` on the user's own arrays, in place."""
        for k in PARAM_NAMES:
            self._arrays[k] -= learning_rate * grads[k]

    def _with_labels(self, method: str, x: np.ndarray, t: np.ndarray, check: Callable[[object], object]) -> object:
        """``check(user.method(x, labels))`` in the method's label format, found on the first call."""
        return labelforms.call_with_labels(self, method, x, t, check)

    def output_of(self, x: np.ndarray) -> np.ndarray:
        """What the user's ``predict`` returns (N, C), checked: logits or probabilities (``self.output``)."""
        where = definition_of(getattr(self.net, "predict", None))
        return check_logits("predict", self._invoke("predict", x), len(x), self.sizes[2], where)

    # -- the book's methods, checked -------------------------------------------------------
    def predict(self, x: np.ndarray) -> np.ndarray:
        """Logits (N, C) of the user's net: its ``predict``, or the log of the probabilities it returns."""
        return as_logits(self.output_of(x), self.output)

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        """The user's own ``loss`` (``t``: class indices; passed in the format it wants)."""
        where = definition_of(getattr(self.net, "loss", None))
        return float(self._with_labels("loss", x, t, lambda v: check_scalar("loss", v, where)))

    def exact_loss(self, x: np.ndarray, t: np.ndarray) -> float:
        """The exact mean cross-entropy of the user's ``predict`` (logits or probabilities alike)."""
        return exact_loss(self.output_of(x), t, self.output)

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        """The user's ``accuracy`` if it has one, else the argmax of its ``predict``."""
        if "accuracy" not in self.provided:
            return float(np.mean(np.argmax(self.output_of(x), axis=1) == t))
        where = definition_of(self.net.accuracy)
        return float(self._with_labels("accuracy", x, t, lambda v: check_scalar("accuracy", v, where)))

    def raw_gradient(self, method: str, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """The user's ``gradient`` or ``numerical_gradient``, checked; the user's own arrays (no copy)."""
        where = definition_of(getattr(self.net, method, None))
        if method == "gradient" and self.gradient_fault is not None:  # its values cannot be taken at face value
            f = self.gradient_fault
            raise ImplementationFailure(f.method, f.message, f.where, error=f.error, params=f.params)
        if method == "numerical_gradient" and "loss" in self.formats:  # it calls loss: same labels
            self.formats.setdefault(method, self.formats["loss"])
        return self._with_labels(method, x, t, lambda g: check_gradients(method, g, self.shapes, where, self.dtype))

    def gradient(self, x: np.ndarray, t: np.ndarray, method: str = "gradient") -> dict[str, np.ndarray]:
        """float64 copies of the user's gradient (``method``: gradient or numerical_gradient).

        ``gradient`` is called right after a forward pass at other weights
        (:func:`~dlfs_gradcheck.usercode.callpatterns.forward_elsewhere`): it must run its own.
        """
        with self.session():
            if method == "gradient":
                forward_elsewhere(self, x, t)
            raw = self.raw_gradient(method, x, t)
            return {k: np.array(v, dtype=np.float64) for k, v in raw.items()}

    # -- what the class does, found out once -------------------------------------------------
    def probe(self, x: np.ndarray, t: np.ndarray) -> None:
        """What the class does (see :mod:`dlfs_gradcheck.usercode.probing`), at the current weights; once."""
        if not self.probed:
            self.probed = True
            with self.session(), self.kept():
                probing.probe(self, x, t)

    def found(self) -> str:
        """What probing found, in one line (the harness and the checker print the same)."""
        return probing.describe(self)

    def findings(self, method: str) -> tuple:
        """What probing found wrong, as :class:`dlfs_gradcheck.diagnose.Diagnosis` (shown when ``method`` fails)."""
        return probing.findings(self, method)
