"""Numbers and paragraphs for the teaching texts (summary, cost growth, float32 lesson).

Plain functions, no state: ``sci(1e-4) == "1e-4"``, ``times(43_232.7) == "43,200"``, and
:func:`paragraph`, which wraps a sentence for the terminal and leaves it whole in Markdown.
"""

from __future__ import annotations

import textwrap

WIDTH = 100  # terminal text is wrapped to this many columns


def sci(x: float, digits: int = 1) -> str:
    """``x`` in short scientific notation, ``digits`` significant: ``1e-4``, ``2.2e-3``, ``-5e+2`` → ``-5e2``."""
    mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def times(ratio: float) -> str:
    """A ratio to 3 significant digits, with thousands separators: ``43,200``, ``4.67``, ``19,000,000``."""
    rounded = float(f"{ratio:.3g}")
    return f"{rounded:,.0f}" if rounded >= 100 else f"{rounded:.3g}"


def paragraph(text: str, markdown: bool, width: int = WIDTH) -> str:
    """``text`` as one paragraph followed by a blank line: wrapped for the terminal, whole in Markdown."""
    body = text if markdown else textwrap.fill(text, width)
    return body + "\n\n"
