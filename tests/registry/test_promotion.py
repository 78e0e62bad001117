"""Promotion rules, decided on the numbers alone."""

from __future__ import annotations

from stockvision.config import Settings
from stockvision.registry.promotion import decide

S = Settings()


def test_first_price_model_needs_to_beat_random_walk():
    ok = decide("price", {"mae_pct": 5.0}, None, {"mae_pct": 5.5}, S)
    assert ok.promote and "random walk" in ok.reason
    no = decide("price", {"mae_pct": 6.0}, None, {"mae_pct": 5.5}, S)
    assert not no.promote and no.compared["random_walk_mae_pct"] == 5.5


def test_price_needs_point_two_pp_improvement():
    assert decide("price", {"mae_pct": 4.79}, {"mae_pct": 5.0}, None, S).promote
    worse = decide("price", {"mae_pct": 4.85}, {"mae_pct": 5.0}, None, S)
    assert not worse.promote and "required 0.2" in worse.reason
    assert abs(worse.compared["improvement_pp"] - 0.15) < 1e-9


def test_pattern_rules_accuracy_and_ece():
    champ = {"accuracy": 0.40, "ece": 0.03}
    assert decide("pattern", {"accuracy": 0.415, "ece": 0.035}, champ, None, S).promote
    small = decide("pattern", {"accuracy": 0.405, "ece": 0.02}, champ, None, S)
    assert not small.promote and "accuracy gain" in small.reason
    badcal = decide("pattern", {"accuracy": 0.45, "ece": 0.05}, champ, None, S)
    assert not badcal.promote and "ECE worse" in badcal.reason


def test_first_pattern_model_needs_log_loss_skill():
    base = {"log_loss": 1.05, "accuracy": 0.4}
    assert decide(
        "pattern", {"accuracy": 0.41, "log_loss": 1.04, "ece": 0.02}, None, base, S
    ).promote
    assert not decide(
        "pattern", {"accuracy": 0.5, "log_loss": 1.06, "ece": 0.02}, None, base, S
    ).promote


def test_missing_metric_never_promotes():
    assert not decide("price", {}, None, {"mae_pct": 5.0}, S).promote
    assert not decide("pattern", {}, None, {"log_loss": 1.0}, S).promote


def test_price_promotion_uses_crps_when_both_sides_have_it():
    # MAE says promote, the proper score of the whole distribution says no: CRPS decides
    base = {"mae_pct": 5.5, "distribution_crps": 0.0400}
    no = decide("price", {"mae_pct": 5.0, "distribution_crps": 0.0410}, None, base, S)
    assert not no.promote and "volatility baseline" in no.reason
    ok = decide("price", {"mae_pct": 6.0, "distribution_crps": 0.0390}, None, base, S)
    assert ok.promote and ok.compared["baseline_crps"] == 0.04
    champ = {"distribution_crps": 0.0400}
    assert decide("price", {"distribution_crps": 0.0397}, champ, None, S).promote  # 0.75 %
    small = decide("price", {"distribution_crps": 0.0399}, champ, None, S)  # 0.25 % < 0.5 %
    assert not small.promote and "required 0.5" in small.reason


def test_pattern_promotion_uses_log_loss_when_both_sides_have_it():
    champ = {"accuracy": 0.50, "log_loss": 1.000, "ece": 0.03}
    # lower accuracy but a clearly better log loss: promoted (proper score decides)
    assert decide(
        "pattern", {"accuracy": 0.47, "log_loss": 0.990, "ece": 0.03}, champ, None, S
    ).promote
    tiny = decide("pattern", {"accuracy": 0.60, "log_loss": 0.999, "ece": 0.03}, champ, None, S)
    assert not tiny.promote and "log-loss gain" in tiny.reason
    badcal = decide("pattern", {"accuracy": 0.5, "log_loss": 0.98, "ece": 0.06}, champ, None, S)
    assert not badcal.promote and "ECE worse" in badcal.reason
