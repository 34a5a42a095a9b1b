"""Implementations plugged in with ``--impl SPEC``, as the harness's method entries.

Each spec is loaded once (:func:`dlfs_gradcheck.usercode.load_impls`; a bad spec raises
:class:`~dlfs_gradcheck.usercode.SpecError`, exit status 2). At the run's weights and first batch its
class is built and probed (:func:`compare.engine.plugin_runner.plugin_runners`), which tells
which methods it offers; each becomes a :class:`~compare.engine.protocol.MethodEntry` whose
runner, at another net shape (the timing tables' 784-50-10), is built anew and probed on a
seeded synthetic batch of that shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from compare.data import make_synthetic
from compare.engine.plugin_runner import plugin_runners
from compare.engine.protocol import MethodEntry
from compare.report.model import MethodNote
from dlfs_gradcheck.usercode import ImplementationFailure, LoadedImpl, SpecError, check_activation, load_impls
from dlfs_gradcheck.usercode.loader import parse_spec

Params = Mapping[str, np.ndarray]


class _Plugged:
    """One loaded class: its runners per net shape, built on first use."""

    def __init__(self, loaded: LoadedImpl, weight_init_std: float, seed: int, activation: str) -> None:
        self.loaded, self.std, self.seed, self.activation = loaded, weight_init_std, seed, activation
        self.sets: dict[tuple, object] = {}

    def runners(self, params: Params, x: np.ndarray | None = None, t: np.ndarray | None = None):
        key = tuple(params["W1"].shape) + tuple(params["W2"].shape)
        if key not in self.sets:
            if x is None:
                d, c = params["W1"].shape[0], params["W2"].shape[1]
                synth = make_synthetic(n_train=10, n_test=1, input_size=d, n_classes=c, seed=self.seed)
                x, t = synth.x_train, synth.t_train
            self.sets[key] = plugin_runners(
                self.loaded, params, x, t, weight_init_std=self.std, activation=self.activation
            )
        return self.sets[key]

    def make(self, label: str):
        def build(params: Params):
            for r in self.runners(params).runners:
                if r.info.label == label:
                    return r
            raise ImplementationFailure(label, "not offered at this net shape")

        return build


def refuse_reserved(specs: Sequence[str], reserved: Sequence[str]) -> None:
    """:class:`SpecError` when a spec's ``LABEL=`` is (or starts as) a built-in row's label."""
    for spec in specs:
        label = parse_spec(spec).label
        if label is not None and label.split("[", 1)[0] in reserved:
            raise SpecError(f"label {label!r} is a built-in method's name ({', '.join(reserved)}); choose another")


def plugin_entries(
    specs: Sequence[str],
    taken: Sequence[str],
    params: Params,
    x: np.ndarray,
    t: np.ndarray,
    *,
    weight_init_std: float,
    seed: int,
    numerical_iters: int,
    activation: str | None = None,
    reserved: Sequence[str] = (),
) -> tuple[list[MethodEntry], list[MethodNote]]:
    """Entries for every method the plugged classes offer, and notes on what they do not offer or did.

    ``reserved``: label stems of the run's own rows (the registry's); a ``LABEL=`` among them is refused.
    """
    refuse_reserved(specs, reserved)
    entries, notes = [], []
    for loaded in load_impls(specs, taken=taken):
        plugged = _Plugged(loaded, weight_init_std, seed, activation or "sigmoid")
        try:
            found = plugged.runners(params, x, t)
        except ImplementationFailure as e:
            notes.append(MethodNote(loaded.label, "FAIL", f"{e.method}: {e.message}", e.where))
            continue
        check_activation(loaded.spec, getattr(found.net, "activation", None), activation)
        for fault in found.net.faults:  # a loss that is not what the gradient differentiates, a wrong accuracy
            notes.append(MethodNote(loaded.label, "FAIL", f"{fault.method}: {fault.message}", fault.where))
        notes += [MethodNote(loaded.label, "not provided", m) for m in found.not_provided]
        notes += [MethodNote(loaded.label, "note", n) for n in found.notes]
        for r in found.runners:
            numerical = r.info.kind == "numerical"
            cap = numerical_iters if numerical else None
            make = plugged.make(r.info.label)
            entries.append(
                MethodEntry(
                    r.info, make, steps_cap=cap, budget=numerical, reference_loss=r.reference_loss, findings=r.findings
                )
            )
    return entries, notes
