"""The language of the prose a user reads: message catalogs (GNU gettext), chosen with ``--lang``.

Run: ``python -m compare.teach --lang ja`` (or ``compare.run --lang zh-TW``). Prose is written as
``_("... {n} ...").format(n=...)``: the catalogs hold the sentence with its ``{placeholders}`` and
the numbers are formatted in afterwards, never typed into a translation. Machine-readable output
(JSON, CSV column names) stays English.

The catalogs live in ``compare/locale/<ll_CC>/LC_MESSAGES/dlfs.po`` and are compiled to ``.mo``
beside them (``pybabel compile -d compare/locale -D dlfs``; the tests check the ``.mo`` is
current). The standard library's :mod:`gettext` reads them; Babel is only the tool that extracts,
updates and compiles them. Standard library only, so that options are parsed before numpy loads.

The language is one per process, like :func:`gettext.install`: :func:`use` sets it, :func:`_`
translates with it.
"""

from __future__ import annotations

import argparse
import gettext
import os
from collections.abc import Mapping
from pathlib import Path

DOMAIN = "dlfs"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGS = ("en", "zh-TW", "ja", "nan-TW")  # what --lang accepts; en is the msgids themselves
ENV_VARS = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")  # gettext's order

_state: dict[str, object] = {"lang": "en", "catalog": gettext.NullTranslations()}


def catalog_name(lang: str) -> str:
    """The catalog folder of a language: ``zh-TW`` -> ``zh_TW``."""
    return lang.replace("-", "_")


def _from_locale_name(name: str) -> str | None:
    """``ja_JP.UTF-8`` -> ``ja``, ``zh_TW`` / ``zh_Hant`` -> ``zh-TW``, ``nan_TW`` -> ``nan-TW``, ``en_US`` -> ``en``.

    None: a language without a catalog here.
    """
    base = name.split(".")[0].split("@")[0].replace("-", "_")
    language, _sep, rest = base.partition("_")
    language = language.lower()
    if language in ("en", "ja"):
        return language
    if language == "nan":
        return "nan-TW"
    if language == "zh" and rest.split("_")[0] in ("TW", "Hant", "HK", "MO"):
        return "zh-TW"
    return None


def from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The language the locale asks for (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``), else ``en``.

    The first variable that is set decides; ``LANGUAGE`` may list several (``ja:en``), the first
    one this project has wins. A locale this project has no catalog for gives English.
    """
    environ = os.environ if environ is None else environ
    for var in ENV_VARS:
        value = environ.get(var, "")
        if not value:
            continue
        for name in value.split(":") if var == "LANGUAGE" else [value]:
            lang = _from_locale_name(name)
            if lang is not None:
                return lang
        if var != "LANGUAGE":
            return "en"  # LC_ALL=C or a language without a catalog: the next variables are not read
    return "en"


def lang_option(text: str) -> str:
    """The ``--lang`` option's type: one of :data:`LANGS` (argparse turns the error into exit status 2)."""
    if text not in LANGS:
        raise argparse.ArgumentTypeError(f"unknown language {text!r} (choose from {', '.join(LANGS)})")
    return text


def add_lang_option(parser: argparse.ArgumentParser) -> None:
    """``--lang`` on a command: the language of its prose (default: from the locale, else English)."""
    parser.add_argument(
        "--lang",
        type=lang_option,
        default=None,
        help=f"language of the lesson's prose: {', '.join(LANGS)} (default: from the locale, else en)",
    )


def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of ``lang`` (English: the msgids as they are); OSError when it is missing."""
    if lang == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, str(LOCALE_DIR), [catalog_name(lang)])


def use(lang: str | None) -> str:
    """Translate with ``lang`` from now on (None: from the locale); return the language chosen."""
    chosen = from_environment() if lang is None else lang
    _state["catalog"], _state["lang"] = translations(chosen), chosen
    return chosen


def current() -> str:
    """The language in use (``en`` until :func:`use` is called)."""
    return str(_state["lang"])


def _(message: str) -> str:
    """``message`` in the language in use (itself when the catalog has no translation)."""
    catalog = _state["catalog"]
    assert isinstance(catalog, gettext.NullTranslations)
    return catalog.gettext(message)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogs without translating it now (a table header, a label)."""
    return message
