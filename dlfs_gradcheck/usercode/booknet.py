"""A user's book-style net behind one small interface: :class:`BookNet`.

The book's API (Deep Learning from Scratch, ch. 4 and 5): ``__init__(input_size,
hidden_size, output_size, weight_init_std=0.01)``, a ``params`` dict of numpy arrays
W1 (D, H), b1 (H,), W2 (H, C), b2 (C,), and ``predict(x)``, ``loss(x, t)``,
``accuracy(x, t)``, ``gradient(x, t)``, ``numerical_gradient(x, t)``. Whatever exists is
used; the rest is listed in ``not_provided``. Usage::

    net = BookNet.build(TwoLayerNet, 784, 50, 10)
    net.load(shared_params)          # written IN PLACE into the user's arrays
    net.probe(x, t)                  # labels, loss kind, activation, arrays the loss reads
    grads = net.gradient(x, t)       # float64 copies, book layout, checked

What real student code does, handled here:

- labels: each method is tried with one-hot rows (the book's scripts) and with class
  indices on its first call; the format that works is kept (ch. 4's ``gradient`` needs
  one-hot, ch. 5's layers take both);
- weights are written in place (ch. 5's layers hold the ``params`` arrays themselves);
  ``probe`` changes each array and watches the logits: an array they do not read is named;
- the user's state is restored after every probe, and a method that replaces or changes
  ``params`` is a failure, its arrays put back;
- the loss: compared with the exact cross-entropy and the book's (``1e-7`` inside the
  log) of the user's own ``predict``; ``loss_kind`` says which it is;
- anything raised or returned unusable becomes an :class:`ImplementationFailure` naming
  the line in the user's file.

Longer than 300 lines: every way a student's class can surprise the harness (label format,
arrays replaced instead of written in place, the book's loss, crashes in their code) is handled
here, next to the one interface they all go through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import numpy as np

from dlfs_gradcheck.usercode.checks import (
    PARAM_NAMES,
    book_loss,
    book_shapes,
    check_gradients,
    check_logits,
    check_scalar,
    detect_activation,
    exact_loss,
    find_params,
    one_hot,
)
from dlfs_gradcheck.usercode.failures import (
    ImplementationFailure,
    NotProvided,
    SpecError,
    definition_of,
    from_exception,
)

METHODS = ("predict", "loss", "accuracy", "gradient", "numerical_gradient")
FORMATS = ("one-hot", "index")


class BookNet:
    """A user's object with the book's API; see the module docstring."""

    framework = "user"
    device = "cpu"

    def __init__(self, net: object, *, label: str | None = None) -> None:
        self.net = net
        self.label = label or type(net).__name__
        self.provided = tuple(m for m in METHODS if callable(getattr(net, m, None)))
        self.not_provided = tuple(m for m in METHODS if m not in self.provided)
        if not {"gradient", "numerical_gradient", "loss"} & set(self.provided):
            raise SpecError(f"{self.label}: has neither gradient, numerical_gradient nor loss (the book's API)")
        self._dict, self._arrays = find_params(net, self.label)
        d, h = self._arrays["W1"].shape
        self.sizes = (d, h, self._arrays["W2"].shape[1])  # (D, H, C)
        self.shapes = book_shapes(*self.sizes)
        self.dtype = self._arrays["W1"].dtype
        self.formats: dict[str, str] = {}  # method -> "one-hot" | "index"
        self.loss_kind: str | None = None  # "exact" | "book" | "other" (after probe)
        self.activation: str | None = None  # "sigmoid" | "relu" when predict matches one (after probe)
        self.not_read: tuple[str, ...] = ()  # params the logits do not change with (after probe)
        self.notes: list[str] = []  # one line each, for the report
        self._probed = False

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
    ) -> BookNet:
        """Construct ``user_cls(input_size, hidden_size, output_size, weight_init_std)`` and wrap it.

        numpy's global random state is saved and restored around the constructor
        (the book draws its weights with ``np.random.randn``).
        """
        state = np.random.get_state()
        try:
            net = user_cls(input_size, hidden_size, output_size, weight_init_std)
        except Exception as e:
            raise from_exception("__init__", e) from None
        finally:
            np.random.set_state(state)
        wrapped = cls(net, label=label or user_cls.__name__)
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
        replaced = [k for k in PARAM_NAMES if self._dict.get(k) is not self._arrays[k]]
        if getattr(self.net, "params", None) is not self._dict:
            self.net.params = self._dict
            replaced = replaced or ["params"]
        for k in PARAM_NAMES:
            self._dict[k] = self._arrays[k]
        return replaced

    # -- calling the user's code ---------------------------------------------------------
    def _invoke(self, method: str, *args: object) -> object:
        """Call the user's method; an exception, or a change to ``params``, is a failure."""
        func = getattr(self.net, method, None)
        if func is None:
            raise NotProvided(f"{self.label} has no {method}")
        saved = {k: self._arrays[k].copy() for k in PARAM_NAMES} if method != "predict" else None
        try:
            out = func(*args)
        except Exception as e:
            self._put_back()
            raise from_exception(method, e) from None
        where = definition_of(func)
        replaced = self._put_back()
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

    def _labels(self, t: np.ndarray, fmt: str) -> np.ndarray:
        return one_hot(t, self.sizes[2]) if fmt == "one-hot" else t

    def labels_for(self, method: str, t: np.ndarray) -> np.ndarray:
        """Class indices ``t`` (N,) in the format ``method`` was found to take (one-hot before any call)."""
        return self._labels(t, self.formats.get(method, "one-hot"))

    def sgd_step(self, grads: Mapping[str, np.ndarray], learning_rate: float) -> None:
        """``W -= learning_rate * grad`` on the user's own arrays, in place."""
        for k in PARAM_NAMES:
            self._arrays[k] -= learning_rate * grads[k]

    def _with_labels(self, method: str, x: np.ndarray, t: np.ndarray, check: Callable[[object], object]) -> object:
        """``check(user.method(x, labels))`` in the method's label format, found on the first call."""
        fmt = self.formats.get(method)
        if fmt is not None:
            return check(self._invoke(method, x, self._labels(t, fmt)))
        # The format the loss takes first (a crash in both is then reported as that format's).
        order = (self.formats["loss"],) if "loss" in self.formats else ("one-hot",)
        order += tuple(f for f in FORMATS if f not in order)
        results, errors = {}, {}
        for fmt in order:
            with self.kept():
                try:
                    results[fmt] = check(self._invoke(method, x, self._labels(t, fmt)))
                except ImplementationFailure as e:
                    errors[fmt] = e
        if not results:
            raise errors[order[0]]
        if method == "loss" and len(results) == 2:  # both run: keep the one that is a cross-entropy
            want = (exact_loss(self._z(x), t), book_loss(self._z(x), t)) if "predict" in self.provided else ()
            fmt = min(FORMATS, key=lambda f: min((abs(results[f] - w) for w in want), default=0.0))
        else:
            fmt = next(f for f in order if f in results)
        self.formats[method] = fmt
        return results[fmt]

    def _z(self, x: np.ndarray) -> np.ndarray:
        return check_logits(
            "predict", self._invoke("predict", x), len(x), self.sizes[2], definition_of(self.net.predict)
        )

    # -- the book's methods, checked -------------------------------------------------------
    def predict(self, x: np.ndarray) -> np.ndarray:
        """The user's logits (N, C), checked."""
        return self._z(x)

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        """The user's own ``loss`` (``t``: class indices; passed in the format it wants)."""
        where = definition_of(getattr(self.net, "loss", None))
        return float(self._with_labels("loss", x, t, lambda v: check_scalar("loss", v, where)))

    def exact_loss(self, x: np.ndarray, t: np.ndarray) -> float:
        """The exact mean cross-entropy of the user's ``predict``."""
        return exact_loss(self._z(x), t)

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        """The user's ``accuracy`` if it has one, else the argmax of its ``predict``."""
        if "accuracy" not in self.provided:
            return float(np.mean(np.argmax(self._z(x), axis=1) == t))
        where = definition_of(self.net.accuracy)
        return float(self._with_labels("accuracy", x, t, lambda v: check_scalar("accuracy", v, where)))

    def raw_gradient(self, method: str, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """The user's ``gradient`` or ``numerical_gradient``, checked; the user's own arrays (no copy)."""
        where = definition_of(getattr(self.net, method, None))
        return self._with_labels(method, x, t, lambda g: check_gradients(method, g, self.shapes, where))

    def gradient(self, x: np.ndarray, t: np.ndarray, method: str = "gradient") -> dict[str, np.ndarray]:
        """float64 copies of the user's gradient (``method``: gradient or numerical_gradient)."""
        if method == "numerical_gradient" and "loss" in self.formats:  # it calls loss: same labels
            self.formats.setdefault(method, self.formats["loss"])
        return {k: np.array(v, dtype=np.float64) for k, v in self.raw_gradient(method, x, t).items()}

    def labels_note(self) -> str:
        """Which label format each method was found to take, one line ("" before any call)."""
        return ("labels: " + ", ".join(f"{m} takes {f}" for m, f in self.formats.items())) if self.formats else ""

    # -- what the class does, found out once -------------------------------------------------
    def probe(self, x: np.ndarray, t: np.ndarray) -> None:
        """Labels, arrays the logits read, activation and loss kind, at the current weights; state kept.

        Done once; later calls return at once.
        """
        if self._probed:
            return
        self._probed = True
        with self.kept():
            self._probe_reads(x, t)
            if "predict" in self.provided:
                self._probe_activation(x)
            if "loss" in self.provided and "predict" in self.provided:
                self._probe_loss(x, t)

    def _probe_reads(self, x: np.ndarray, t: np.ndarray) -> None:
        look = self._z if "predict" in self.provided else (lambda xb: np.asarray(self.loss(xb, t)))
        before = np.array(look(x))
        rng = np.random.default_rng(0)
        unread = []
        for k in PARAM_NAMES:
            a = self._arrays[k]
            keep = a.copy()
            a += (0.1 * max(float(np.max(np.abs(a))), 0.1)) * rng.standard_normal(a.shape)  # in place
            if np.array_equal(np.array(look(x)), before):
                unread.append(k)
            a[...] = keep
        self.not_read = tuple(unread)
        if unread:
            self.notes.append(
                f"the logits do not change when {', '.join(unread)} change: the layers do not read params "
                "(arrays replaced or copied instead of shared?)"
            )

    def _probe_activation(self, x: np.ndarray) -> None:
        self.activation = detect_activation(self._z(x), self.params(), x, self.dtype)
        if self.activation is None:
            self.notes.append("predict matches neither a sigmoid nor a ReLU hidden layer on the shared weights")

    def _probe_loss(self, x: np.ndarray, t: np.ndarray) -> None:
        z = self._z(x)
        theirs, exact, book = self.loss(x, t), exact_loss(z, t), book_loss(z, t)
        tol = (1e-10 if self.dtype == np.float64 else 1e-5) * max(1.0, abs(exact))
        if abs(theirs - exact) <= tol:
            self.loss_kind = "exact"
        elif abs(theirs - book) <= tol:
            self.loss_kind = "book"
            self.notes.append(
                f"loss is the book's cross_entropy_error (1e-7 inside the log: {theirs - exact:+.2e} from the exact "
                "cross-entropy here)"
                + ("; numerical_gradient differentiates it" if "numerical_gradient" in self.provided else "")
            )
        else:
            self.loss_kind = "other"
            self.notes.append(
                f"loss = {theirs:.10g} is not the cross-entropy of predict ({exact:.10g}, or {book:.10g} with the "
                "book's 1e-7)"
            )
