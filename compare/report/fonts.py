"""Fonts for the charts' labels: a CJK-capable font for a language written in Han characters or kana.

Used by :mod:`compare.report.plots`. :func:`chart_language` says in which language the labels can be
drawn here: the language in use (:mod:`compare.i18n`) when it is English or a CJK font is
installed, else English (the teaching page then says so).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from compare import i18n

# Fonts with Han characters and kana, as the major systems and distributions ship them
CJK_FONTS = (
    "Noto Sans CJK TC", "Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Sans TC", "Noto Sans JP",
    "Source Han Sans TC", "Source Han Sans JP", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "IPAexGothic",
    "IPAGothic", "TakaoGothic", "Microsoft JhengHei", "Microsoft YaHei", "Yu Gothic", "MS Gothic",
    "PingFang TC", "Hiragino Sans", "Heiti TC", "AR PL UMing TW", "Droid Sans Fallback",
)  # fmt: skip


def cjk_font() -> str | None:
    """The first installed font of :data:`CJK_FONTS` that matplotlib finds (None: none is installed)."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def chart_language() -> tuple[str, str | None]:
    """(language of the chart labels, font family): English labels when a CJK language has no font here."""
    lang = i18n.current()
    if lang == "en":
        return lang, None
    font = cjk_font()
    return (lang, font) if font else ("en", None)


@contextmanager
def quiet_logger(name: str) -> Iterator[None]:
    """matplotlib's log lines on fonts (a weight it substitutes, a glyph it lacks) kept off stderr."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
