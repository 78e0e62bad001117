"""Promotion rules: when a challenger replaces the champion. Pure functions, so the rules are testable.

Rules (settings hold the thresholds). Proper scores decide whenever both sides were scored with them:
- price model: promoted if its walk-forward CRPS (``distribution_crps``, the score of the whole predictive
  distribution) is at least ``promote_price_crps_delta_pct`` % lower than the champion's on the same window;
  a first model must have a lower CRPS than the fallback baseline (the EWMA-volatility random walk).
  Metrics without a CRPS (older runs) fall back to the MAE rule: 0.2 pp lower MAE than the champion, a
  first model below the random walk's MAE.
- pattern model: promoted if its log loss is at least ``promote_pattern_log_loss_delta`` lower than the
  champion's and its ECE not worse by more than 0.01 (without log losses: accuracy at least 1 point
  higher, same ECE rule); a first model must have a lower log loss than the majority-class baseline.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from stockvision.config import Settings

Kind = Literal["price", "pattern"]


@dataclass
class Decision:
    """The outcome of comparing a challenger with the champion (or the baseline)."""

    promote: bool
    reason: str
    compared: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _num(metrics: dict[str, Any] | None, key: str) -> float:
    if not metrics:
        return math.nan
    value = metrics.get(key)
    return float(value) if value is not None else math.nan


def decide(
    kind: Kind,
    challenger: dict[str, Any],
    champion: dict[str, Any] | None,
    baseline: dict[str, Any] | None,
    settings: Settings,
) -> Decision:
    """Apply the promotion rule of ``kind`` to flat metric dicts (keys like ``mae_pct``, ``accuracy``)."""
    if kind == "price":
        return _decide_price(challenger, champion, baseline, settings)
    return _decide_pattern(challenger, champion, baseline, settings)


def _decide_price(challenger, champion, baseline, settings: Settings) -> Decision:
    crps = _num(challenger, "distribution_crps")
    other = _num(champion if champion is not None else baseline, "distribution_crps")
    if not math.isnan(crps) and not math.isnan(other):
        return _decide_price_crps(crps, other, champion is None, settings)
    mae = _num(challenger, "mae_pct")
    if math.isnan(mae):
        return Decision(False, "challenger has no MAE on the evaluation window", {"mae_pct": mae})
    if champion is None:
        rw = _num(baseline, "mae_pct")
        compared = {"challenger_mae_pct": mae, "random_walk_mae_pct": rw}
        if not math.isnan(rw) and mae < rw:
            return Decision(True, f"first model: MAE {mae:.3f}% < random walk {rw:.3f}%", compared)
        return Decision(
            False,
            f"first model does not beat the random walk (MAE {mae:.3f}% vs {rw:.3f}%)",
            compared,
        )
    champ = _num(champion, "mae_pct")
    delta = champ - mae
    need = settings.promote_price_mae_delta_pp
    compared = {
        "challenger_mae_pct": mae,
        "champion_mae_pct": champ,
        "improvement_pp": delta,
        "required_pp": need,
    }
    if delta >= need - 1e-12:
        return Decision(
            True, f"MAE {mae:.3f}% is {delta:.3f} pp below the champion's {champ:.3f}%", compared
        )
    return Decision(
        False,
        f"MAE {mae:.3f}% vs champion {champ:.3f}%: improvement {delta:.3f} pp < required {need} pp",
        compared,
    )


def _decide_price_crps(crps: float, other: float, first: bool, settings: Settings) -> Decision:
    """CRPS rule: lower is better; a first model must beat the fallback baseline at all."""
    if first:
        compared = {"challenger_crps": crps, "baseline_crps": other}
        if crps < other:
            return Decision(
                True, f"first model: CRPS {crps:.5f} < volatility baseline {other:.5f}", compared
            )
        return Decision(
            False,
            f"first model does not beat the volatility baseline (CRPS {crps:.5f} vs {other:.5f})",
            compared,
        )
    gain = (1.0 - crps / other) * 100.0 if other > 0 else math.nan
    need = settings.promote_price_crps_delta_pct
    compared = {
        "challenger_crps": crps,
        "champion_crps": other,
        "improvement_pct": gain,
        "required_pct": need,
    }
    if not math.isnan(gain) and gain >= need - 1e-9:
        return Decision(True, f"CRPS {crps:.5f} is {gain:.2f} % below the champion's", compared)
    return Decision(
        False,
        f"CRPS {crps:.5f} vs champion {other:.5f}: improvement {gain:.2f} % < required {need} %",
        compared,
    )


def _decide_pattern(challenger, champion, baseline, settings: Settings) -> Decision:
    acc = _num(challenger, "accuracy")
    ece = _num(challenger, "ece")
    if math.isnan(acc):
        return Decision(False, "challenger has no accuracy on the evaluation window", {})
    if champion is None:
        ll = _num(challenger, "log_loss")
        base_ll = _num(baseline, "log_loss")
        compared = {
            "challenger_log_loss": ll,
            "majority_log_loss": base_ll,
            "challenger_accuracy": acc,
        }
        if not math.isnan(base_ll) and ll < base_ll:
            return Decision(
                True,
                f"first model: log loss {ll:.4f} < majority-class baseline {base_ll:.4f}",
                compared,
            )
        return Decision(
            False,
            f"first model does not beat the majority-class baseline (log loss {ll:.4f} vs {base_ll:.4f})",
            compared,
        )
    ll, champ_ll = _num(challenger, "log_loss"), _num(champion, "log_loss")
    if not math.isnan(ll) and not math.isnan(champ_ll):
        return _decide_pattern_log_loss(ll, champ_ll, ece, _num(champion, "ece"), settings)
    champ_acc = _num(champion, "accuracy")
    champ_ece = _num(champion, "ece")
    gain_pp = (acc - champ_acc) * 100.0
    ece_worse = ece - champ_ece
    compared = {
        "challenger_accuracy": acc,
        "champion_accuracy": champ_acc,
        "accuracy_gain_pp": gain_pp,
        "required_pp": settings.promote_pattern_acc_delta_pp,
        "challenger_ece": ece,
        "champion_ece": champ_ece,
        "ece_worse_by": ece_worse,
        "ece_tolerance": settings.promote_pattern_ece_tolerance,
    }
    if gain_pp < settings.promote_pattern_acc_delta_pp - 1e-9:
        return Decision(
            False,
            f"accuracy gain {gain_pp:.2f} pp < required {settings.promote_pattern_acc_delta_pp} pp",
            compared,
        )
    if (refused := _ece_refusal(ece_worse, settings, compared)) is not None:
        return refused
    return Decision(
        True,
        f"accuracy +{gain_pp:.2f} pp and ECE change {ece_worse:+.4f} within tolerance",
        compared,
    )


def _ece_refusal(ece_worse: float, settings: Settings, compared: dict) -> Decision | None:
    """The calibration guard both pattern rules share: a challenger may not be worse calibrated
    than the champion by more than the tolerance, whatever it gains elsewhere."""
    if ece_worse > settings.promote_pattern_ece_tolerance + 1e-12:
        return Decision(
            False,
            f"ECE worse by {ece_worse:.4f} > tolerance {settings.promote_pattern_ece_tolerance}",
            compared,
        )
    return None


def _decide_pattern_log_loss(
    ll: float, champ_ll: float, ece: float, champ_ece: float, settings: Settings
) -> Decision:
    gain = champ_ll - ll
    need = settings.promote_pattern_log_loss_delta
    ece_worse = ece - champ_ece
    compared = {
        "challenger_log_loss": ll,
        "champion_log_loss": champ_ll,
        "log_loss_gain": gain,
        "required": need,
        "challenger_ece": ece,
        "champion_ece": champ_ece,
        "ece_worse_by": ece_worse,
        "ece_tolerance": settings.promote_pattern_ece_tolerance,
    }
    if gain < need - 1e-12:
        return Decision(False, f"log-loss gain {gain:.4f} < required {need}", compared)
    if (refused := _ece_refusal(ece_worse, settings, compared)) is not None:
        return refused
    return Decision(
        True,
        f"log loss {ll:.4f} is {gain:.4f} below the champion's, ECE within tolerance",
        compared,
    )
