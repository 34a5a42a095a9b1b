"""The message catalogs: complete, placeholders intact, compiled copies current; ``--lang`` and its default.

Run: ``python -m pytest tests/test_i18n.py``. The messages of the code are extracted with Babel
(as ``pybabel extract -F babel.cfg`` does) and held against each language's ``.po``; the ``.mo``
files that :mod:`gettext` loads are compiled anew from the ``.po`` and compared byte for byte.
"""

from __future__ import annotations

import io
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from compare import i18n, teach
from compare.i18n import LANGS, catalog_name, from_environment
from compare.report.glossary import glossary_name, render_glossary
from compare.report.teach_doc import render_doc
from compare.run import main as run_main

REPO = Path(__file__).resolve().parents[1]
TRANSLATED = [lang for lang in LANGS if lang != "en"]


def code_messages() -> set[str]:
    """Every message marked in the code with ``_()`` or ``N_()``, as Babel extracts it."""
    found = extract_from_dir(str(REPO / "compare"), method_map=[("**.py", "python")], keywords={"_": None, "N_": None})
    return {message for _file, _line, message, _comments, _context in found}


def catalog(lang: str):
    path = i18n.LOCALE_DIR / catalog_name(lang) / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    with path.open("rb") as f:
        return read_po(f)


def fields(text: str) -> list[str]:
    """The ``{placeholders}`` of a message, sorted (a literal brace would be an error: format() refuses it)."""
    return sorted(name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None)


@pytest.fixture(scope="module")
def messages() -> set[str]:
    found = code_messages()
    assert len(found) > 100, "the extraction found almost nothing: is the keyword list right?"
    return found


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_message_has_a_translation_and_none_is_stale(lang: str, messages: set[str]) -> None:
    cat = catalog(lang)
    held = {m.id: m for m in cat if m.id}
    missing = sorted(messages - set(held))
    assert not missing, f"{lang}: no entry for {missing[:5]} (run pybabel update, then translate)"
    stale = sorted(set(held) - messages)
    assert not stale, f"{lang}: entries no code uses: {stale[:5]}"
    empty = sorted(mid for mid, m in held.items() if not m.string or m.fuzzy)
    assert not empty, f"{lang}: untranslated or fuzzy: {empty[:5]}"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_placeholders_of_each_translation_are_its_messages(lang: str) -> None:
    """Numbers are formatted in, never typed into a translation: the same {names}, no more, no fewer."""
    bad = [(m.id, m.string) for m in catalog(lang) if m.id and fields(m.string) != fields(m.id)]
    assert not bad, f"{lang}: placeholders differ: {bad[:3]}"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_compiled_catalog_is_the_po_compiled_now(lang: str) -> None:
    buf = io.BytesIO()
    write_mo(buf, catalog(lang))
    mo = i18n.LOCALE_DIR / catalog_name(lang) / "LC_MESSAGES" / f"{i18n.DOMAIN}.mo"
    assert mo.read_bytes() == buf.getvalue(), f"{mo} is stale: pybabel compile -d compare/locale -D dlfs"


def test_template_holds_the_codes_messages(messages: set[str]) -> None:
    with (i18n.LOCALE_DIR / "dlfs.pot").open("rb") as f:
        template = {m.id for m in read_po(f) if m.id}
    assert template == messages, "compare/locale/dlfs.pot is stale: rerun pybabel extract (docs/languages.md)"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_a_language_translates_and_english_is_the_message(lang: str) -> None:
    i18n.use(lang)
    assert i18n._("The answer in numbers") != "The answer in numbers"
    i18n.use("en")
    assert i18n._("The answer in numbers") == "The answer in numbers"


@pytest.mark.parametrize(
    "environ, lang",
    [
        ({}, "en"),
        ({"LANG": "ja_JP.UTF-8"}, "ja"),
        ({"LC_ALL": "zh_TW.UTF-8", "LANG": "en_US.UTF-8"}, "zh-TW"),
        ({"LC_MESSAGES": "nan_TW"}, "nan-TW"),
        ({"LANG": "zh_Hant_TW.UTF-8"}, "zh-TW"),
        ({"LANGUAGE": "fr:ja", "LANG": "en_US.UTF-8"}, "ja"),  # LANGUAGE lists several; the first known wins
        ({"LANGUAGE": "fr", "LANG": "ja_JP.UTF-8"}, "ja"),  # none known in LANGUAGE: the locale decides
        ({"LC_ALL": "C", "LANG": "ja_JP.UTF-8"}, "en"),  # LC_ALL overrides LANG
        ({"LANG": "zh_CN.UTF-8"}, "en"),  # simplified Chinese: no catalog
        ({"LANG": "de_DE.UTF-8"}, "en"),
    ],
)
def test_default_language_from_the_locale(environ: dict[str, str], lang: str) -> None:
    assert from_environment(environ) == lang


@pytest.mark.parametrize("command", [run_main, teach.main])
def test_unknown_language_is_bad_usage_in_one_line(command, capsys: pytest.CaptureFixture[str]) -> None:
    assert command(["--lang", "fr"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("error: ")
    assert all(lang in err for lang in LANGS), err


def test_lesson_of_a_run_is_printed_in_the_language(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--only", "lesson", "--hidden-size", "10", "--threads", "1", "--no-progress", "--lang", "ja"]
    assert run_main(argv) == 0
    out = capsys.readouterr().out
    assert "== 5. float32 の教訓" in out and "本の h" in out and "測定された最良の h" in out
    assert "The float32 lesson" not in out and "Best h measured" not in out


@pytest.mark.parametrize("lang, words", [("zh-TW", "誤差反向傳播法"), ("ja", "誤差逆伝播法"), ("nan-TW", "佇")])
def test_page_in_a_language_has_the_runs_numbers(lang: str, words: str) -> None:
    from test_teach import build, fake_report

    from compare.report.format import format_seconds

    report = fake_report(12.3, 293e-6, 0.784, 94.9e-6)
    report.summary = build(report)
    english = render_doc(report, {})
    i18n.use(lang)
    page = render_doc(report, {})
    assert words in page
    for number in (format_seconds(12.3), format_seconds(293e-6), "79,520", "2.2e-3"):
        assert number in page and number in english, number
    for sentence in ("## The answer in numbers", "How backprop works", "Times vary from run to run"):
        assert sentence in english and sentence not in page, sentence


@pytest.mark.parametrize("lang", LANGS)
def test_committed_glossary_is_the_catalogs(lang: str) -> None:
    i18n.use(lang)
    path = REPO / "docs" / glossary_name(lang)
    assert path.read_text(encoding="utf-8") == render_glossary(), f"{path} is stale: python -m compare.teach"
