"""Text for a terminal: control characters escaped, and ASCII stand-ins for what its encoding cannot show.

- :func:`printable` escapes control characters (``"\\x1b[2J"`` -> ``"\\\\x1b[2J"``): every string
  that comes from a file or another program goes through it before it reaches a terminal.
- :func:`use_stand_ins` makes ``sys.stdout`` and ``sys.stderr`` write a stand-in for a character
  their encoding cannot encode (``Δ`` -> ``delta``, ``×`` -> ``x``, ``≈`` -> ``~``) instead of
  raising ``UnicodeEncodeError``: on an ASCII terminal (``LC_ALL=C``, ``PYTHONIOENCODING=ascii``) a
  command prints plainer text and still finishes its work. Whatever the encoding can show is left
  alone; files are written in UTF-8 whatever the terminal.

Every command calls :func:`use_stand_ins` first (``compare.cli.command``). Standard library only.
"""

from __future__ import annotations

import codecs
import io
import sys
import unicodedata

# Stand-ins for the characters the project prints (tables, prose, the checker's report).
ASCII_STAND_INS = {
    "×": "x",
    "·": "*",
    "⊙": "*",  # elementwise product (how backprop works)
    "±": "+/-",
    "≈": "~",
    "∝": "~",
    "—": "--",
    "–": "-",
    "−": "-",
    "…": "...",
    "µ": "u",  # micro sign
    "μ": "u",  # Greek mu
    "Δ": "delta",
    "δ": "delta",
    "ε": "eps",
    "τ": "tau",
    "σ": "sigma",
    "Σ": "sum",
    "θ": "theta",
    "π": "pi",
    "η": "eta",
    "λ": "lambda",
    "∂": "d",
    "∇": "grad",
    "∘": "o",
    "√": "sqrt",
    "÷": "/",
    "‖": "||",
    "≥": ">=",
    "≤": "<=",
    "≠": "!=",
    "∞": "inf",
    "→": "->",
    "←": "<-",
    "↑": "^",
    "↓": "v",
    "⇒": "=>",
    "²": "^2",
    "³": "^3",
    "⁴": "^4",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
    "•": "*",
    "✓": "ok",
    "✗": "x",
}
STAND_INS = "dlfs-stand-ins"  # the name of the codec error handler


# Characters that reorder or hide what follows them on a terminal (bidirectional overrides and isolates,
# U+202E among them: "Trojan Source"); escaped like control characters.
BIDI_CONTROLS = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A)) | {0x200E, 0x200F, 0x061C}


def printable(text: object) -> str:
    """``text`` with control characters escaped (``\\n`` -> ``\\x0a``, U+202E -> ``\\u202e``), safe in one line."""
    out = []
    for ch in str(text):
        code = ord(ch)
        if code < 0x20 or 0x7F <= code < 0xA0:
            out.append(f"\\x{code:02x}")
        elif code in BIDI_CONTROLS:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def stand_in(ch: str) -> str:
    """ASCII for one character: from the table, else its compatibility decomposition (``é`` -> ``e``), else escaped."""
    if ch in ASCII_STAND_INS:
        return ASCII_STAND_INS[ch]
    plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii")
    if plain:
        return plain
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"  # e.g. 数 -> \u6570, a lone surrogate too


def _stand_ins(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return "".join(stand_in(ch) for ch in error.object[error.start : error.end]), error.end


codecs.register_error(STAND_INS, _stand_ins)


def use_stand_ins() -> None:
    """Make ``sys.stdout`` and ``sys.stderr`` print stand-ins for what their encoding cannot encode."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors != STAND_INS:
            try:
                stream.reconfigure(errors=STAND_INS)
            except (ValueError, OSError):  # a closed stream: nothing will be printed to it
                pass
