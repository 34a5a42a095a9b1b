"""The learner's figures: backprop's cost in forward passes, loss against time, and the charts' language.

Run: ``python -m pytest tests/test_learner.py``. The figures are derived from fixed made-up reports
(:func:`test_teach.fake_report`); the expected multiply-adds are counted by hand for the book's net.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from test_teach import fake_report, run_of

from compare import i18n, teach
from compare.report import fonts, plots
from compare.report.learner import backprop_cost, loss_clock
from compare.report.model import TrajectorySection


def test_backprop_cost_in_forward_passes() -> None:
    report = fake_report(12.3, 293e-6, 0.784, 94.9e-6)
    cost = backprop_cost(report)
    assert cost is not None and cost.shape == "784-50-10 x100" and cost.n_params == 39_760
    # forward: 100·(784·50 + 50·10); backward: 100·784·50 (dW1) + 2·100·50·10 (dW2 and dZ)
    assert cost.forward_madds == 3_970_000 and cost.backward_madds == 4_020_000
    assert cost.theory_in_forward_passes == pytest.approx(7_990_000 / 3_970_000, rel=1e-12)
    # 12.3 s for 2P = 79,520 forward passes: 154.7 µs each; 293 µs of backprop is 1.894 of them
    assert cost.forward_s == pytest.approx(12.3 / 79_520, rel=1e-12)
    assert cost.in_forward_passes == pytest.approx(293e-6 * 79_520 / 12.3, rel=1e-12)


def test_backprop_cost_needs_both_times() -> None:
    report = fake_report(12.3, 293e-6, 0.784, 94.9e-6)
    assert backprop_cost(dataclasses.replace(report, timing=None)) is None
    only_backprop = [r for r in report.timing.rows if r.method == "backprop"]
    assert (
        backprop_cost(dataclasses.replace(report, timing=dataclasses.replace(report.timing, rows=only_backprop)))
        is None
    )


def test_loss_clock_spreads_each_runs_time_over_its_steps() -> None:
    runs = [run_of("numerical", 4, 2.0), run_of("backprop", 1000, 0.5), run_of("empty", 0, 0.0)]
    clock = loss_clock(TrajectorySection(iter_per_epoch=15.0, runs=runs, pairs=[], ok=True))
    assert [c.method for c in clock.curves] == ["numerical", "backprop"]  # a run of no steps draws nothing
    numerical, backprop = clock.curves
    assert numerical.seconds == pytest.approx([0.5, 1.0, 1.5, 2.0]) and numerical.losses == runs[0].losses
    assert backprop.seconds[0] == pytest.approx(0.5 / 1000) and backprop.seconds[-1] == pytest.approx(0.5)


@pytest.mark.skipif(not plots.available(), reason="matplotlib is not installed (the plot extra)")
@pytest.mark.parametrize("font, expected", [(None, ("en", None)), ("Some CJK Font", ("ja", "Some CJK Font"))])
def test_chart_labels_fall_back_to_english_without_a_cjk_font(
    monkeypatch: pytest.MonkeyPatch, font: str | None, expected: tuple[str, str | None]
) -> None:
    monkeypatch.setattr(fonts, "cjk_font", lambda: font)
    i18n.use("ja")
    assert fonts.chart_language() == expected
    i18n.use("en")
    assert fonts.chart_language() == ("en", None)  # English needs no CJK font


@pytest.mark.skipif(not plots.available(), reason="matplotlib is not installed (the plot extra)")
def test_page_says_when_its_charts_are_in_english(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    saved = tmp_path / "run.json"
    saved.write_text(fake_report(12.3, 293e-6, 0.784, 94.9e-6).to_json(), encoding="utf-8")
    monkeypatch.setattr(fonts, "cjk_font", lambda: None)
    doc = tmp_path / "page.ja.md"
    assert teach.main(["--doc", str(doc), "--from", str(saved), "--lang", "ja", "--threads", "1"]) == 0
    page = doc.read_text(encoding="utf-8")
    assert "CJK 文字を表示できるフォントが見つかりませんでした" in page
    charts = sorted(p.name for p in (tmp_path / "page.ja").glob("*.png"))
    assert charts == ["accuracy.png", "lesson.png", "loss-time.png", "losses.png"]
    assert (tmp_path / "glossary.ja.md").read_text(encoding="utf-8").startswith("# 用語集\n")


@pytest.mark.parametrize("lang", ["ja", "zh-TW", "nan-TW"])
def test_translated_prose_is_wrapped_by_the_columns_a_terminal_gives_it(lang: str) -> None:
    """CJK characters take two columns and sentences have no spaces: lines still end within the width, nothing lost."""
    import textwrap

    from compare.report.format import columns, fill

    theory = next(
        m for m in i18n.translations("ja")._catalog if isinstance(m, str) and m.startswith("In theory: a net")
    )
    text = i18n.translations(lang).gettext(theory)
    assert columns(text) > len(text)  # the translation holds wide characters
    for width in (40, 100):
        lines = fill(text, width, "  ").split("\n")
        assert len(lines) > 1 and all(columns(line) <= width for line in lines), lines
        assert "".join(line.strip() for line in lines).replace(" ", "") == text.replace(" ", "")
    english = "the numerical gradient nudges one parameter at a time " * 5
    assert fill(english, 40, "  ") == textwrap.fill(english, 40, subsequent_indent="  ")
