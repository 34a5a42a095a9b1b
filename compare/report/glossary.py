"""The glossary: every term the report and the teaching page print, explained for a reader of ch. 4.

Written by ``python -m compare.teach`` beside the page (``docs/glossary.md``, ``docs/glossary.ja.md``,
...), in the language in use (:mod:`compare.i18n`); the terms and their explanations come from the
message catalogs like every other sentence.
"""

from __future__ import annotations

from compare import i18n
from compare.i18n import N_, _

TERMS = (  # (term, explanation), in the order a reader meets them on the page
    (
        N_("numerical gradient"),
        N_(
            "The book's ch. 4 gradient: each parameter is nudged by ±h and the loss is evaluated twice;"
            " (L(x + h) − L(x − h)) / 2h approximates its derivative. 2P loss evaluations per gradient."
        ),
    ),
    (
        N_("backprop (backpropagation)"),
        N_(
            "The book's ch. 5 gradient: one forward pass and one backward pass through the "
            "computational graph give every entry at once, exact up to rounding."
        ),
    ),
    (
        N_("numerical, numerical-fast, backprop, autograd, jax"),
        N_(
            "The method labels: the book's loop; the same central differences computed many entries at "
            "a time; numpy backprop; PyTorch's automatic differentiation; JAX's."
        ),
    ),
    (
        N_("autograd[cpu,float64]"),
        N_("A method label with its device and dtype in brackets: here PyTorch autograd on the CPU in 64-bit floats."),
    ),
    (
        N_("P"),
        N_("The number of parameters (weights and biases): D·H + H + H·C + C for a D-H-C net."),
    ),
    (
        N_("D-H-C xN"),
        N_("A net's shape and batch: D inputs, H hidden units, C classes, a batch of N images."),
    ),
    (
        N_("loss"),
        N_("The cross-entropy error of the batch: the number training makes smaller."),
    ),
    (
        N_("forward pass, backward pass"),
        N_(
            "Forward: the net computes its output and loss from the input. Backward: the gradient flows"
            " back from the loss through each node."
        ),
    ),
    (
        N_("computational graph, local gradient, chain rule"),
        N_(
            "The net drawn as nodes (Affine, Sigmoid, ReLU, Softmax-with-Loss); each node's derivative "
            "of its output by its input is its local gradient; multiplying them along the graph (the "
            "chain rule) gives the gradient of the loss."
        ),
    ),
    (
        N_("median"),
        N_(
            "The middle value of the timed runs: half were faster, half slower. Less swayed by one slow"
            " run than the mean."
        ),
    ),
    (
        N_("IQR"),
        N_(
            "Interquartile range: the spread of the middle half of the timed runs (75th minus 25th "
            "percentile). Marked ! when it exceeds a tenth of the median: a noisy time."
        ),
    ),
    (
        N_("min"),
        N_("The fastest timed run."),
    ),
    (
        N_("runs×loops"),
        N_(
            "How a time was taken: so many runs, each timing so many calls in a loop; a run's time is "
            "its loop's time divided by the calls."
        ),
    ),
    (
        N_("×fastest"),
        N_("This method's median time divided by the fastest method's at the same shape: 1 for the fastest."),
    ),
    (
        N_("×numerical"),
        N_("This method's median time divided by the book's numerical loop's."),
    ),
    (
        N_("≈ (estimated)"),
        N_(
            "The book's loop timed on a sample of parameters and scaled to all of them: every parameter"
            " costs the same two forward passes."
        ),
    ),
    (
        N_("max abs, max rel"),
        N_(
            "The largest absolute difference between two gradients, and the largest difference relative"
            " to the size of the entries."
        ),
    ),
    (
        N_("rtol (tolerance)"),
        N_("The largest relative difference a check accepts before it reports FAIL."),
    ),
    (
        N_("h"),
        N_("The step of the central difference: the book uses h = 1e-4."),
    ),
    (
        N_("ε (machine epsilon)"),
        N_(
            "The gap between 1 and the next float: about 2.2e-16 in float64, 1.2e-7 in float32. Each "
            "computed value carries a rounding error of about ε times its size."
        ),
    ),
    (
        N_("float64, float32"),
        N_("64-bit and 32-bit floating-point numbers (dtype): about 16 and 7 significant digits."),
    ),
    (
        N_("truncation error, rounding error"),
        N_(
            "Truncation: what the central difference leaves out of the exact derivative (about h²). "
            "Rounding: the floats' error divided by 2h (about ε/h)."
        ),
    ),
    (
        N_("slope"),
        N_(
            "The exponent k of time ∝ P^k fitted on a log-log plot: 2 for the numerical gradient, 1 for"
            " backprop in theory."
        ),
    ),
    (
        N_("FLOP-limited"),
        N_(
            "The shortest time the multiply-adds could take at the machine's measured peak speed "
            "(floating-point operations per second)."
        ),
    ),
    (
        N_("τ, catches ‖e‖≥"),
        N_(
            "In the gradient checker's report: τ is the tolerance of a check; 'catches ‖e‖≥ x' is the "
            "smallest error in the gradient that the check is sure to detect."
        ),
    ),
    (
        N_("mini-batch"),
        N_("The images of one training step, drawn at random from the training data (100 in the book)."),
    ),
)


def render_glossary() -> str:
    """The glossary page as Markdown, in the language in use."""
    out = ["# " + _("Glossary") + "\n\n"]
    out.append(
        _(
            "The terms that the report of `python -m compare.run` and the teaching page print, in the order one "
            "meets them."
        )
        + "\n\n"
    )
    for term, explanation in TERMS:
        out.append(f"- **{_(term)}** — {_(explanation)}\n")
    return "".join(out)


def glossary_name(lang: str | None = None) -> str:
    """``glossary.md`` for English, ``glossary.ja.md`` for Japanese, ... (beside the page)."""
    lang = i18n.current() if lang is None else lang
    return "glossary.md" if lang == "en" else f"glossary.{lang}.md"
