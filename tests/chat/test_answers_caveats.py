"""A forecast carrying a measured caveat (its range is among the narrowest, and ranges that narrow
under-covered in the walk-forward) shows it right under the range, in the user's language, in the
single answer, the comparison and the CLI; every number in it traces to the prediction."""

from __future__ import annotations

from prediction_factory import make_prediction

from stockvision.chat import answers as A
from stockvision.chat.grounding import check
from stockvision.evaluation.scale_coverage import ScaleBin
from stockvision.predict.predictor import scale_caveat

CALM = ScaleBin(q_low=0.0, q_high=0.01, scale_max=0.023, rows=2450, coverage_80=0.709)


def _calm(symbol: str = "SVN"):
    p = make_prediction(symbol, last_close=5_000.0, target=5_000.0, low=4_950.0, high=5_050.0)
    return p.model_copy(update={"caveats": [scale_caveat(CALM)]})


def test_the_caveat_sits_under_the_range_in_both_languages_and_is_grounded():
    p = _calm()
    for lang, words in (("vi", "ít hơn thường lệ"), ("en", "moved less than usual")):
        text = A.format_prediction(p, lang, today=p.data_as_of)
        lines = text.splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith("⚠"))
        assert "80%" in lines[at - 1] and (
            "khoảng dự báo" in lines[at - 1] or "range" in lines[at - 1]
        )
        assert words in lines[at] and "71%" in lines[at]
        report = check(text, [p.model_dump(mode="json")], today=p.data_as_of)
        assert report.ok, report.unsupported
    plain = A.format_prediction(make_prediction(), "en")
    assert "⚠" not in plain


def test_a_comparison_keeps_the_caveat_of_the_one_stock_it_concerns():
    text = A.format_comparison([_calm("SVN"), make_prediction("VNM")], "en")
    assert "⚠ SVN:" in text and "⚠ VNM" not in text and "71%" in text


def test_the_cli_prints_the_caveat_under_the_table():
    from stockvision.cli.serve_cmds import _caveat_lines

    lines = _caveat_lines([_calm("SVN"), make_prediction("VNM")])
    assert len(lines) == 1 and lines[0].startswith(
        "! SVN: This 80% range is among the narrowest 1%"
    )
