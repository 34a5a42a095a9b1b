"""The learner's parts of the teaching page: how backprop works, loss against time, the answer, the glossary link.

Rendered into ``docs/why-backprop*.md`` by :mod:`compare.report.teach_doc`, in the language in
use (:mod:`compare.i18n`); the figures come from :mod:`compare.report.learner`, which reads the
run's report. The glossary itself is :mod:`compare.report.glossary`.
"""

from __future__ import annotations

from compare import i18n
from compare.i18n import _
from compare.report.format import format_seconds, orders_of_magnitude, sci, times
from compare.report.glossary import glossary_name
from compare.report.learner import backprop_cost, loss_clock
from compare.report.model import Report, TrajectorySection

CLOCK_CHART = "loss-time.png"


def glossary_link() -> str:
    text = _(
        "The words in the tables (median, IQR, runs×loops, ×fastest, rtol, the method labels) are explained in "
        "the {link}."
    )
    word = _("glossary")
    return text.format(link=f"[{word}]({glossary_name()})")


def answer_lines(report: Report) -> list[str]:
    """The answer in numbers: the run's own summary in English; in another language, its main figures."""
    if i18n.current() == "en":
        return list(report.summary.lines) if report.summary is not None else []
    lines = []
    cost = backprop_cost(report)
    if cost is not None:
        lines.append(
            _(
                "The net {shape} has P = {n_params} parameters (weights and biases). The book's numerical gradient "
                "nudges one parameter at a time and evaluates the loss twice for each: 2P = {two_p} forward passes per "
                "gradient. Backprop gets all P entries from one forward and one backward pass."
            ).format(shape=cost.shape.split()[0], n_params=f"{cost.n_params:,}", two_p=f"{2 * cost.n_params:,}")
        )
        lines.append(
            _(
                "Measured time per gradient at {shape}: numerical {numerical}, backprop {backprop}: backprop is "
                "{ratio}× faster."
            ).format(
                shape=cost.shape,
                numerical=format_seconds(cost.numerical_s),
                backprop=format_seconds(cost.backprop_s),
                ratio=times(cost.numerical_s / cost.backprop_s),
            )
        )
        iters = report.config.iters
        lines.append(
            _(
                "Projected {iters}-step training, as in the book: {slow} with the numerical gradient versus {fast} "
                "with backprop ({iters} × the time per gradient)."
            ).format(
                iters=f"{iters:,}",
                slow=format_seconds(cost.numerical_s * iters),
                fast=format_seconds(cost.backprop_s * iters),
            )
        )
    lesson = report.lesson
    lo, hi = (lesson.at("float64", lesson.book_h), lesson.at("float32", lesson.book_h)) if lesson else (None, None)
    if lo and hi:
        lines.append(
            _(
                "In float32 the book's h = {h} fails: the numerical gradient errs by {e32}, about {factor} times "
                "float64's {e64}, so reference gradients are computed in float64."
            ).format(
                h=sci(lesson.book_h),
                e32=sci(hi.max_abs),
                factor=orders_of_magnitude(hi.max_abs, lo.max_abs),
                e64=sci(lo.max_abs),
            )
        )
    return lines


def how_backprop_works(report: Report) -> str:
    """The section: the graph, the local gradients, the chain rule, and the cost in forward passes."""
    out = ["\n## " + _("How backprop works: the chain rule on the net's graph") + "\n\n"]
    out.append(
        _(
            "Chapter 5 writes the net as a computational graph of layers: Affine (X·W1 + b1), Sigmoid or ReLU, Affine "
            "(Z·W2 + b2), and Softmax-with-Loss. The forward pass computes each node's output from its input and "
            "keeps what the backward pass will need. The backward pass starts from dL/dL = 1 at the loss and walks "
            "the graph in reverse: each node multiplies the gradient arriving from above by its own local gradient "
            "(the chain rule) and passes the product on. For a batch of N:"
        )
        + "\n\n"
    )
    nodes = [
        (_("Softmax-with-Loss"), "dY = (softmax(Y) − T) / N"),
        (_("Affine 2"), "dW2 = Zᵀ·dY,  db2 = Σₙ dY,  dZ = dY·W2ᵀ"),
        (_("Sigmoid"), "dA1 = dZ ⊙ Z ⊙ (1 − Z)"),
        (_("ReLU"), "dA1 = dZ ⊙ [A1 > 0]"),
        (_("Affine 1"), "dW1 = Xᵀ·dA1,  db1 = Σₙ dA1"),
    ]
    out += [f"- {name}: `{formula}`\n" for name, formula in nodes]
    out.append(
        "\n"
        + _(
            "Each local gradient is exact, so their product is the exact gradient: the numerical gradient "
            "approximates the same numbers one entry at a time, which is why the two agree to the rounding and "
            "truncation error of central differences. The notebook docs/learn-backprop.ipynb checks it entry by "
            "entry, and each node's local gradient on its own."
        )
        + "\n"
    )
    cost = backprop_cost(report)
    if cost is not None:
        out.append("\n" + _cost_text(cost) + "\n")
    return "".join(out)


def _cost_text(cost) -> str:
    return _(
        "Why one backward pass is cheap: it does the same kind of matrix products as the forward pass. At {shape} "
        "a forward pass costs {fwd} multiply-adds and the backward pass {bwd} (no gradient with respect to the "
        "input images is needed), so one gradient by backprop costs about {theory} forward passes, whatever P. "
        "This run measured it: the numerical gradient, 2P = {two_p} forward passes, took {numerical}, so one "
        "forward pass took about {forward}; backprop ({dtype}) took {backprop}, about {measured} forward passes. "
        "The measured multiple differs from the count by what a count of multiply-adds leaves out: the elementwise "
        "layers, the loss, and the fixed cost of each call."
    ).format(
        shape=cost.shape,
        fwd=f"{cost.forward_madds:,}",
        bwd=f"{cost.backward_madds:,}",
        theory=f"{cost.theory_in_forward_passes:.1f}",
        two_p=f"{2 * cost.n_params:,}",
        numerical=format_seconds(cost.numerical_s),
        forward=format_seconds(cost.forward_s),
        dtype=cost.backprop_dtype,
        backprop=format_seconds(cost.backprop_s),
        measured=f"{cost.in_forward_passes:.2g}",
    )


def clock_text(section: TrajectorySection, charts: dict[str, str]) -> str:
    """Loss against wall-clock time: how far each method got in the time the numerical one spent."""
    clock = loss_clock(section)
    numerical = next((c for c in clock.curves if c.method == "numerical"), None)
    backprop = next((c for c in clock.curves if c.method.startswith("backprop")), None)
    if numerical is None or backprop is None:
        return ""
    spent = numerical.seconds[-1]
    per_step = backprop.seconds[0]
    text = _(
        "Loss against wall-clock time: in the {spent} that the book's numerical gradient spent on {steps} steps "
        "(loss {first} to {last}), backprop could make about {bp_steps} steps; this run's {bp_run} backprop steps "
        "took {bp_spent} and brought the loss to {bp_last}. Each run's time is spread evenly over its steps (a run "
        "records its total)."
    ).format(
        spent=format_seconds(spent),
        steps=f"{len(numerical.losses):,}",
        first=f"{numerical.losses[0]:.3f}",
        last=f"{numerical.losses[-1]:.3f}",
        bp_steps=times(spent / per_step),
        bp_run=f"{len(backprop.losses):,}",
        bp_spent=format_seconds(backprop.seconds[-1]),
        bp_last=f"{backprop.losses[-1]:.3f}",
    )
    chart = charts.get(CLOCK_CHART)
    alt = _("training loss against wall-clock time, one curve per method")
    image = f"\n![{alt}]({chart})\n" if chart else ""
    return f"\n{text}\n{image}"


def translation_note() -> str:
    """Who or what checked this language's text, and the terms its translator was unsure of ('' in English)."""
    note = _("translator-credits")
    return "" if note == "translator-credits" else f"\n---\n\n{note}\n"
