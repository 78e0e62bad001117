"""Answers about a model that was not validated walk-forward (a short history) never claim a
coverage that was not measured, and say why; a comparison shows no direction without evidence."""

from __future__ import annotations

from prediction_factory import make_prediction

from stockvision.chat import answers as A
from stockvision.predict.predictor import serving_model

SHORT = {
    "walk_forward_skipped": 1.0,
    "labelled_weeks": 22.0,
    "need_weeks": 110.0,
    "holdout_weeks": 0.0,
    "history_weeks": 26.0,
    "horizon_weeks": 4.0,
}


class _Baseline:
    name = "vol_random_walk"


def _short_prediction(metrics: dict, measured: float | None):
    p = make_prediction(direction_supported=False)
    interval = p.interval.model_copy(
        update={"measured_coverage": measured, "measured_on": "holdout" if measured else None}
    )
    return p.model_copy(
        update={"interval": interval, "serving_model": serving_model(_Baseline(), metrics)}
    )


def test_unmeasured_coverage_is_not_claimed_and_the_reason_is_given():
    p = _short_prediction(SHORT, None)
    vi, en = A.format_prediction(p, "vi"), A.format_prediction(p, "en")
    assert "giá được kỳ vọng nằm trong khoảng này 80% số lần" not in vi
    assert "chưa đo được ngoài mẫu" in vi
    assert "mô hình chưa được kiểm định walk-forward vì chỉ có 26 tuần dữ liệu" in vi.lower()
    assert "expected inside it 80% of the time" not in en
    assert "has not been measured out of sample" in en
    assert "not been validated walk-forward because there are only 26 weeks of data" in en


def test_holdout_coverage_is_quoted_as_a_holdout_figure():
    metrics = {**SHORT, "holdout_weeks": 13.0, "holdout_coverage_80": 0.74}
    p = _short_prediction(metrics, 0.74)
    vi, en = A.format_prediction(p, "vi"), A.format_prediction(p, "en")
    assert "trên các tuần cuối giữ lại để kiểm tra, giá thật rơi vào khoảng này 74%" in vi
    assert "Trên 13 tuần cuối giữ lại để kiểm tra, khoảng 80% chứa giá thực tế 74%" in vi
    assert "on the last weeks held out the real price landed inside it 74%" in en
    assert "khi kiểm định" not in vi and "Walk-forward test" not in en


def test_walk_forward_models_are_unchanged():
    metrics = {"distribution_crps_skill": 0.02, "distribution_dm_pvalue": 0.001}
    speaker = serving_model(type("M", (), {"name": "har_vol"})(), metrics)
    assert speaker.walk_forward is True and speaker.limits_vi is None


def test_comparison_shows_no_direction_without_evidence_and_the_limits_once():
    a, b = _short_prediction(SHORT, None), _short_prediction(SHORT, None)
    b = b.model_copy(update={"symbol": "HSG"})
    table = A.format_comparison([a, b], "vi")
    assert "▲" not in table and "• chưa rõ" in table
    assert table.count("chưa được kiểm định walk-forward") == 1
    supported = make_prediction("HPG")  # evidence for a direction: the arrow stays
    assert "▲ TĂNG" in A.format_comparison([supported, b], "vi")
