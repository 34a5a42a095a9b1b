"""Plug a user's implementation into the harness and the gradient checker (``--impl SPEC``).

``SPEC`` is ``[LABEL=]path/to/file.py:ClassName`` or ``[LABEL=]package.module:ClassName``.
The user's code runs in a :class:`Sandbox` (:mod:`dlfs_gradcheck.usercode.isolation`).
The class is either a book-style net (Deep Learning from Scratch ch. 4/5: ``params``,
``predict``, ``loss``, ``accuracy``, ``gradient`` and/or ``numerical_gradient``), wrapped by
:class:`BookNet`, or a ``torch.nn.Module`` with two ``nn.Linear`` layers, wrapped by
:class:`TorchModuleNet`. Usage::

    loaded = load_impl("mine.py:TwoLayerNet", taken=["backprop"])   # SpecError: one line, exit 2
    net = build_net(loaded, 784, 50, 10)                            # BookNet | TorchModuleNet
    net.load(params); net.probe(x, t); grads = net.gradient(x, t)   # ImplementationFailure on a crash

numpy only at import; torch is imported when a torch module is plugged in.
"""

from __future__ import annotations

from dlfs_gradcheck.usercode.booknet import BookNet
from dlfs_gradcheck.usercode.checks import book_loss, book_loss_gradient, exact_loss
from dlfs_gradcheck.usercode.failures import ImplementationFailure, NotProvided, SpecError, check_activation
from dlfs_gradcheck.usercode.isolation import Sandbox, SignalInterrupt
from dlfs_gradcheck.usercode.loader import ImplSpec, LoadedImpl, load_impl, load_impls, parse_spec
from dlfs_gradcheck.usercode.torchnet import TorchModuleNet


def build_net(
    loaded: LoadedImpl,
    input_size: int,
    hidden_size: int,
    output_size: int,
    weight_init_std: float = 0.01,
    *,
    dtype: str | None = None,
) -> BookNet | TorchModuleNet:
    """A fresh instance of the loaded class, wrapped. ``dtype`` converts a torch module (None: as built)."""
    box = loaded.sandbox
    if loaded.kind == "torch":
        return TorchModuleNet.build(
            loaded.cls, input_size, hidden_size, output_size, label=loaded.label, dtype=dtype, sandbox=box
        )
    return BookNet.build(
        loaded.cls, input_size, hidden_size, output_size, weight_init_std, label=loaded.label, sandbox=box
    )


__all__ = [
    "BookNet",
    "ImplSpec",
    "ImplementationFailure",
    "LoadedImpl",
    "NotProvided",
    "Sandbox",
    "SignalInterrupt",
    "SpecError",
    "check_activation",
    "TorchModuleNet",
    "book_loss",
    "book_loss_gradient",
    "build_net",
    "exact_loss",
    "load_impl",
    "load_impls",
    "parse_spec",
]
