"""The score cells of the CLI tables: proper scores by kind, numbers that read as what they are."""

from __future__ import annotations

from stockvision.cli._common import fmt_number, fmt_pct, score_cells


def test_tiny_values_read_as_zero_not_as_a_mantissa():
    # 7.342e-17 printed with :.4g reads "7.342e-17", truncated by a table to "7.342…"
    assert fmt_number(7.342e-17) == "0"
    assert fmt_number(-3e-9, 3) == "0"
    assert fmt_number(0.04830123, 5) == "0.04830"
    assert fmt_number(None) == "-" and fmt_number(float("nan")) == "-"
    assert fmt_pct(0.0166, signed=True) == "+1.7 %"
    assert fmt_pct(-0.019, signed=True) == "-1.9 %"
    assert fmt_pct(0.833) == "83.3 %"


def test_price_models_show_crps_pattern_models_log_loss_and_tone_macro_f1():
    price = {
        "mae_pct": 6.7,
        "distribution_crps": 0.0483,
        "distribution_crps_skill": 0.001,
        "distribution_coverage_80": 0.833,
    }
    assert score_cells(price) == ["CRPS 0.04830", "+0.1 %", "80 % range: 83.3 %"]
    pattern = {"accuracy": 0.39, "log_loss": 0.99581, "log_loss_skill": 7.3e-17, "ece": 0.1267}
    assert score_cells(pattern) == ["log loss 0.9958", "+0.0 %", "ECE 0.127"]
    assert score_cells({"macro_f1": 0.6123}) == ["macro-F1 0.612", "-", "-"]
    assert score_cells({"mae_pct": 5.0}) == ["-", "-", "-"]
