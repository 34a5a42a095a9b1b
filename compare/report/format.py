"""Formatting helpers for every renderer: durations, short numbers, ratios, counts, paragraphs, slope claims.

Plain functions, no state: ``format_seconds(2.93e-4) == "293 µs"``, ``sci(1e-4) == "1e-4"``,
``times(43_232.7) == "43,200"``, :func:`paragraph`, which wraps a sentence for the
terminal and leaves it whole in Markdown, and :func:`escaped`, which every text renderer
applies to the model first, so that no string of a report (a label, a note, a path: perhaps
from a file) brings a control character into its text.
"""

from __future__ import annotations

import dataclasses
import math
import re
import textwrap
import unicodedata
from collections.abc import Callable
from typing import TypeVar

from compare.i18n import N_
from compare.terminal import printable

T = TypeVar("T")

WIDTH = 100  # terminal text is wrapped to this many columns


def sci(x: float, digits: int = 1) -> str:
    """``x`` in short scientific notation, ``digits`` significant: ``1e-4``, ``2.2e-3``, ``-5e+2`` → ``-5e2``."""
    if not math.isfinite(x):
        return str(x)  # nan, inf, -inf
    mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def times(ratio: float) -> str:
    """A ratio to 3 significant digits, with thousands separators: ``43,200``, ``4.67``, ``19,000,000``."""
    rounded = float(f"{ratio:.3g}")
    return f"{rounded:,.0f}" if rounded >= 100 else f"{rounded:.3g}"


def columns(text: str) -> int:
    """The columns ``text`` takes in a terminal: two for each wide (CJK) character, one for the others."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def fill(text: str, width: int = WIDTH, indent: str = "", break_words: bool = True) -> str:
    """``textwrap.fill`` by the columns the text takes: CJK prose, which has no spaces, breaks between characters."""
    if columns(text) == len(text):  # no wide characters: textwrap's own result
        return textwrap.fill(
            text, width, subsequent_indent=indent, break_long_words=break_words, break_on_hyphens=break_words
        )
    # Tokens: a run of narrow non-space characters stays whole; each wide character or space is one token.
    tokens = re.findall(r"[^\s\u1100-\uffff]+|\s|.", text.strip())
    lines, line = [], ""
    for token in tokens:
        if line and columns(line + token) > width and not token.isspace():
            lines.append(line.rstrip())
            line = indent
        if not (token.isspace() and line.strip() == ""):
            line += token
    return "\n".join([*lines, line.rstrip()])


def paragraph(text: str, markdown: bool, width: int = WIDTH) -> str:
    """``text`` as one paragraph followed by a blank line: wrapped for the terminal, whole in Markdown."""
    body = text if markdown else fill(text, width)
    return body + "\n\n"


def format_seconds(s: float) -> str:
    """A duration with a unit that keeps 3 significant digits: 12.3 s, 293 µs, 1.05 ms (``-`` for NaN)."""
    if math.isnan(s):
        return "-"
    if s < 0:  # not a duration a run measures, but a file may say so: shown as it is
        return "-" + format_seconds(-s)
    s = float(f"{s:.3g}")  # round first, so that 0.99996 s is "1 s", not "1e+03 ms"
    if s >= 3600:
        return f"{s / 3600:.3g} h"
    if s >= 60:
        return f"{s / 60:.3g} min"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def plain_duration(seconds: float) -> str:
    """A duration in words with two significant digits: ``≈34 hours``, ``≈2.9 seconds``."""
    for unit, size in (("days", 86_400.0), ("hours", 3600.0), ("minutes", 60.0), ("seconds", 1.0)):
        # days only from three days on: "≈34 hours" reads better than "≈1.4 days"
        if seconds >= (3 * size if unit == "days" else size):
            return f"≈{_two_digits(seconds / size)} {unit}"
    if seconds >= 1e-3:
        return f"≈{_two_digits(seconds * 1e3)} milliseconds"
    return f"≈{_two_digits(seconds * 1e6)} microseconds"


def _two_digits(v: float) -> str:
    """``v`` to two significant digits, never in exponent form: ``130``, ``2.9``, ``1,200``."""
    rounded = float(f"{v:.2g}")
    return f"{rounded:,.0f}" if rounded >= 10 else f"{rounded:g}"


def e2(v: float | None) -> str:
    """A table cell in ``%.2e``; ``-`` for a missing value or NaN."""
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.2e}"


def ok_word(flag: bool) -> str:
    return "ok" if flag else "FAIL"


def ratio(v: float | None) -> str:
    """A ratio to 3 significant digits; ``-`` for a missing value or NaN."""
    return "-" if v is None or math.isnan(v) else f"{v:.3g}"


def count(n: int, noun: str) -> str:
    """``1 record``, ``2 records``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# Why a fitted slope is not quoted as this run's growth rate, by its claim (compare.sections.slopefit.judge_slope).
SLOPE_REASONS = {  # marked for the catalogs: the teaching page translates them
    "few-sizes": N_("too few sizes were timed to show how the time grows"),
    "noisy": N_("the times at each size spread too widely"),
    "scatter": N_("the sizes' times scatter about the fitted line: an outlier, or load that changed between sizes"),
    "implausible": N_("no cost of this net grows like that: the times drifted between sizes"),
    "": N_("this report is older than the check of its slopes"),
}


def versions_text(versions: dict[str, str], blas: str) -> str:
    """``numpy 2.4.6 (BLAS: OpenBLAS 0.3.29), torch 2.13.0, jax 0.10.2``: each installed framework's version.

    ``blas`` is numpy's BLAS library (the one its arrays compute with), shown beside numpy's version,
    or on its own where a report names no numpy version.
    """
    parts = [f"{name} {v}" + (f" (BLAS: {blas})" if name == "numpy" else "") for name, v in versions.items()]
    return ", ".join(parts if "numpy" in versions else [*parts, f"BLAS: {blas}"])


def slope_span(low: float, high: float) -> str:
    """A slope's range for prose and tables: ``"1.80–1.98"``; ``"unbounded"`` when an end is not finite."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "unbounded"
    return f"{low:.2f}–{high:.2f}"


def orders_of_magnitude(a: float, b: float) -> str:
    """``a / b`` as a power of ten for prose: ``"10^7"`` (``"1"`` when within a factor of ~3)."""
    if not (a > 0 and b > 0):
        return "-"
    k = round(math.log10(a / b))
    return "1" if k == 0 else f"10^{k}"


def escaped(obj: T, escape: Callable[[str], str] = printable) -> T:
    """A copy of ``obj`` (dataclasses, lists, dicts) with ``escape`` applied to every string (control characters)."""
    if isinstance(obj, str):
        return escape(obj)  # type: ignore[return-value]
    if obj is None or isinstance(obj, (int, float)):  # the most common leaves, first
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: escaped(getattr(obj, f.name), escape) for f in dataclasses.fields(obj) if f.init}
        return dataclasses.replace(obj, **fields)
    if isinstance(obj, dict):
        return {escaped(k, escape): escaped(v, escape) for k, v in obj.items()}  # type: ignore[return-value]
    if isinstance(obj, (list, tuple)):
        return type(obj)(escaped(v, escape) for v in obj)  # type: ignore[return-value]
    return obj
