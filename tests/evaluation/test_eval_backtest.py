"""Backtest on a hand-computable 3-symbol market: fees, tax, lots and a stock dividend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stockvision.evaluation.backtest import (
    BacktestConfig,
    backtest_with_benchmark,
    buy_and_hold,
    run_backtest,
    span_summary,
)

DATES = pd.bdate_range("2024-01-01", "2024-01-19")  # Mon 1 .. Fri 19, three weeks
T = pd.Timestamp


def _price(symbol: str, d: pd.Timestamp) -> float:
    if symbol == "AAA":
        return 10_000.0 if d < T("2024-01-10") else 10_500.0 if d < T("2024-01-15") else 11_000.0
    if symbol == "BBB":  # 20% stock dividend, ex-date 10 Jan: raw price drops 30,000 -> 25,500
        if d < T("2024-01-10"):
            return 30_000.0
        return 25_500.0 if d < T("2024-01-15") else 26_000.0 if d < T("2024-01-19") else 27_000.0
    return 5_000.0 if d < T("2024-01-19") else 4_900.0  # CCC


def _daily() -> pd.DataFrame:
    rows = []
    for sym in ("AAA", "BBB", "CCC"):
        for d in DATES:
            px = _price(sym, d)
            factor = 1 / 1.2 if (sym == "BBB" and d < T("2024-01-10")) else 1.0
            rows.append({"symbol": sym, "date": d, "open": px, "close": px, "factor": factor})
    return pd.DataFrame(rows)


def _predictions() -> pd.DataFrame:
    scores = {
        T("2024-01-05"): {"AAA": 0.05, "BBB": 0.03, "CCC": -0.01},
        T("2024-01-12"): {"AAA": -0.02, "BBB": 0.04, "CCC": 0.01},
    }
    rows = [
        {"symbol": s, "week_end": w, "pred_log_return": v}
        for w, per in scores.items()
        for s, v in per.items()
    ]
    return pd.DataFrame(rows)


CFG = BacktestConfig(top_k=2, initial_capital=10_000_000, rebalance_weeks=1)


def test_strategy_cash_flows_exact():
    res = run_backtest(_predictions(), _daily(), CFG)
    trades = res.trades.set_index(["date", "symbol", "side"])
    # 8 Jan: budget 5,000,000 each -> AAA floor(5e6 / (10,000 * 1.0015 * 100)) = 4 lots,
    # BBB floor(5e6 / (30,000 * 1.0015 * 100)) = 1 lot; cash 10e6 - 4,006,000 - 3,004,500
    assert trades.loc[(T("2024-01-08"), "AAA", "buy"), "shares"] == 400
    assert trades.loc[(T("2024-01-08"), "BBB", "buy"), "shares"] == 100
    assert trades.loc[(T("2024-01-08"), "AAA", "buy"), "fee"] == pytest.approx(6_000)
    # 10 Jan close: the dividend made 100 BBB shares into 120
    assert res.equity[T("2024-01-10")] == pytest.approx(2_989_500 + 400 * 10_500 + 120 * 25_500)
    # 15 Jan: AAA leaves (sold 400 at 11,000 with fee 0.15% + tax 0.1%); BBB is kept: its
    # target of 2 lots is only 80 shares above the 120 held, less than a lot, so no trade;
    # CCC bought with budget 10,509,500 / 2 -> 10 lots
    sell = trades.loc[(T("2024-01-15"), "AAA", "sell")]
    assert sell["shares"] == 400 and sell["tax"] == pytest.approx(4_400)
    assert (T("2024-01-15"), "BBB", "buy") not in trades.index
    assert trades.loc[(T("2024-01-15"), "CCC", "buy"), "shares"] == 1_000
    # 19 Jan (last trading day, open): liquidate 120 BBB at 27,000 and 1,000 CCC at 4,900
    assert trades.loc[(T("2024-01-19"), "BBB", "sell"), "shares"] == pytest.approx(120)
    # T+2: the 15 Jan buy (5,007,500) exceeds the settled cash (2,989,500); the difference is an
    # advance on the AAA sale, 0.04 %/day for 2 days
    advance = (5_007_500 - 2_989_500) * 0.0004 * 2
    final = 2_371_000 - advance + (120 * 27_000 + 1_000 * 4_900) * (1 - 0.0015 - 0.001)
    assert res.equity.iloc[-1] == pytest.approx(final)
    assert res.summary["final_equity"] == pytest.approx(final)
    assert res.summary["total_return"] == pytest.approx(final / 10_000_000 - 1)
    assert res.summary["turnover"] == pytest.approx((4_400_000 + 5_000_000) / (2 * 10_509_500))
    # positions after a full round trip of costs: AAA +, BBB +, BBB +, CCC (5,000 -> 4,900) -
    assert res.summary["hit_rate"] == pytest.approx(0.75)
    bbb_first = res.positions.query("symbol == 'BBB'").iloc[0]["net_return"]
    assert bbb_first == pytest.approx(26_000 / 25_000 * 0.9975 / 1.0015 - 1)
    assert res.equity.index[0] == T("2024-01-08") and res.equity.index[-1] == T("2024-01-19")


def test_summary_figures_follow_the_equity_curve():
    res = run_backtest(_predictions(), _daily(), CFG)
    values = np.r_[CFG.initial_capital, res.equity.to_numpy()]
    rets = values[1:] / values[:-1] - 1
    n = len(res.equity) - 1
    assert res.summary["annual_return"] == pytest.approx((values[-1] / values[0]) ** (252 / n) - 1)
    assert res.summary["sharpe"] == pytest.approx(rets.mean() / rets.std(ddof=1) * np.sqrt(252))
    assert res.summary["max_drawdown"] == pytest.approx(
        (values / np.maximum.accumulate(values) - 1).min()
    )
    assert res.summary["max_drawdown"] <= 0


def test_span_summary_measures_only_the_common_dates():
    res = run_backtest(_predictions(), _daily(), CFG)
    start, end = T("2024-01-10"), T("2024-01-18")
    part = res.equity[start:end].to_numpy()
    got = span_summary(res.equity, start, end, CFG)
    assert got["total_return"] == pytest.approx(part[-1] / part[0] - 1)
    n = len(part) - 1
    assert got["annual_return"] == pytest.approx((part[-1] / part[0]) ** (252 / n) - 1)
    assert got["max_drawdown"] == pytest.approx((part / np.maximum.accumulate(part) - 1).min())
    # the whole curve, rebased at its first mark, differs from the summary (which starts from the
    # initial capital): the span is measured on its own marks only
    whole = span_summary(res.equity, DATES[0], DATES[-1], CFG)
    assert whole["total_return"] == pytest.approx(res.equity.iloc[-1] / res.equity.iloc[0] - 1)
    with pytest.raises(ValueError, match="fewer than 2 equity marks"):
        span_summary(res.equity, T("2025-01-01"), T("2025-02-01"), CFG)


def test_buy_and_hold_exact_and_benchmark_alignment():
    bh = buy_and_hold(_daily(), ["AAA", "BBB", "CCC"], T("2024-01-08"), T("2024-01-19"), CFG)
    # 3,333,333 each: AAA 3 lots, BBB 1 lot, CCC 6 lots; each costs 3,004,500
    cash = 10_000_000 - 3 * 3_004_500
    final = cash + (300 * 11_000 + 120 * 27_000 + 600 * 4_900) * 0.9975
    assert bh.equity.iloc[-1] == pytest.approx(final)
    assert np.isnan(bh.summary["turnover"])
    strat, bench = backtest_with_benchmark(_predictions(), _daily(), CFG)
    assert bench.equity.index.equals(strat.equity.index)
    assert bench.equity.iloc[-1] == pytest.approx(final)


def test_untradable_symbol_is_skipped_and_ties_break_by_name():
    daily = _daily()
    daily.loc[(daily["symbol"] == "AAA") & (daily["date"] == T("2024-01-08")), "open"] = np.nan
    res = run_backtest(
        _predictions(),
        daily,
        BacktestConfig(top_k=1, initial_capital=10_000_000, rebalance_weeks=1),
    )
    first = res.trades[res.trades["date"] == T("2024-01-08")]
    assert list(first["symbol"]) == ["BBB"]  # AAA ranked first but had no open that day
    preds = _predictions().assign(pred_log_return=0.0)
    tie = run_backtest(
        preds, _daily(), BacktestConfig(top_k=1, initial_capital=10_000_000, rebalance_weeks=1)
    )
    assert tie.trades.iloc[0]["symbol"] == "AAA"


def test_settled_cash_needs_no_advance_and_the_fee_can_be_off():
    no_fee = BacktestConfig(
        top_k=2, initial_capital=10_000_000, rebalance_weeks=1, advance_fee_per_day=0.0
    )
    with_fee = run_backtest(_predictions(), _daily(), CFG)
    without = run_backtest(_predictions(), _daily(), no_fee)
    # the first rebalance buys from settled cash only: identical until the second one
    first = with_fee.equity[: T("2024-01-12")]
    assert np.allclose(first, without.equity[: T("2024-01-12")])
    gap = without.equity.iloc[-1] - with_fee.equity.iloc[-1]
    assert gap == pytest.approx((5_007_500 - 2_989_500) * 0.0004 * 2)
    with pytest.raises(ValueError, match="settlement_days"):
        BacktestConfig(settlement_days=5, rebalance_weeks=1)


def test_bad_input_is_explained():
    with pytest.raises(ValueError, match="factor"):
        run_backtest(_predictions(), _daily().drop(columns="factor"), CFG)
    with pytest.raises(ValueError, match="one row per"):
        run_backtest(pd.concat([_predictions()] * 2), _daily(), CFG)
    with pytest.raises(ValueError, match="no daily prices"):
        run_backtest(_predictions(), _daily().query("symbol != 'CCC'"), CFG)


def test_top_fraction_backtest_buys_the_best_decile_against_equal_weight_of_all():
    """20 names, steady drifts from -2 % to +2 % a week; a perfect score buys the top 2."""
    from stockvision.evaluation.backtest import top_fraction_backtest, top_fraction_size

    dates = pd.bdate_range("2024-01-01", "2024-03-29")
    names = [f"S{i:02d}" for i in range(20)]
    drift = np.linspace(-0.004, 0.004, 20)  # per trading day
    rows = []
    for i, sym in enumerate(names):
        px = 10_000.0 * np.exp(drift[i] * np.arange(len(dates)))
        for d, p in zip(dates, px, strict=True):
            rows.append({"symbol": sym, "date": d, "open": p, "close": p, "factor": 1.0})
    daily = pd.DataFrame(rows)
    weeks = pd.date_range("2024-01-05", "2024-03-01", freq="W-FRI")
    preds = pd.DataFrame(
        [
            {"symbol": s, "week_end": w, "pred_log_return": drift[i]}
            for w in weeks
            for i, s in enumerate(names)
        ]
    )
    cfg = BacktestConfig(initial_capital=1_000_000_000.0)
    assert top_fraction_size(preds, 0.1) == 2
    strategy, bench = top_fraction_backtest(preds, daily, 0.1, cfg)
    assert set(strategy.positions["symbol"]) == {"S18", "S19"}
    assert set(bench.positions["symbol"]) == set(names)
    assert strategy.summary["total_return"] > 0.1 > abs(bench.summary["total_return"])
    with pytest.raises(ValueError, match="fraction"):
        top_fraction_backtest(preds, daily, 0.0, cfg)
