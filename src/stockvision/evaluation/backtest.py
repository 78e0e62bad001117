"""Long-only top-k backtest of out-of-sample return predictions, with Vietnamese trading costs.

Protocol (per ``BacktestConfig``):
- every ``rebalance_weeks`` prediction weeks, rank the symbols by predicted return and hold the top
  ``top_k`` with equal value weights, trading at the OPEN of the first trading day after the
  prediction ``week_end`` (the prediction uses data up to that week's close, so no look-ahead);
- positions are held until the next rebalance's open; the last one for ``rebalance_weeks`` market
  weeks (or until the last trading day available) and is then liquidated;
- orders are in whole lots of ``lot_size`` shares, rounded down so the cash covers the buy fee;
  leftover cash stays uninvested and earns nothing. Names kept from one rebalance to the next are
  only topped up / trimmed by whole lots, so unchanged holdings cost nothing;
- costs: ``fee_rate`` on the value of every buy and sell, plus ``sell_tax_rate`` on sales; T+2
  settlement: buys beyond the settled cash are paid with an advance on the day's sale proceeds,
  charged ``advance_fee_per_day`` x ``settlement_days`` on the amount advanced;
- prices are RAW as traded. Corporate actions are handled with the back-adjustment ``factor`` of the
  adjusted frame (``adj = raw * factor``): a holding keeps its value across an ex-date, so
  ``shares_after = shares_before * factor_after / factor_before`` (a 20% stock dividend, factor
  1/1.2 -> 1, turns 100 shares into 120). Internally a holding is stored as ``shares / factor``
  which is invariant to corporate actions. Fractional shares from dividends are kept (value is
  what matters; in practice odd shares are paid in cash). If the factor also folds cash
  dividends in, they are in effect reinvested in the stock;
- a stock without an open on a trading date is not bought; if held, it is valued and sold at its
  last traded price (close carried forward).

Daily equity is marked at the close. Performance figures use daily returns of that curve with
``trading_days_per_year`` = 252; Sharpe uses ``risk_free_rate`` (annual, default 0 i.e. a plain
return/volatility ratio; set e.g. the VN 1-year deposit rate to get an excess-return Sharpe).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "BacktestConfig",
    "BacktestResult",
    "backtest_with_benchmark",
    "buy_and_hold",
    "run_backtest",
    "span_summary",
    "top_fraction_backtest",
    "top_fraction_size",
]


@dataclass(frozen=True)
class BacktestConfig:
    """Backtest knobs; ``from_settings`` reads top_k and costs from ``stockvision.config``."""

    top_k: int = 5
    initial_capital: float = 1_000_000_000.0
    lot_size: int = 100
    fee_rate: float = 0.0015
    sell_tax_rate: float = 0.001
    rebalance_weeks: int = 4
    risk_free_rate: float = 0.0
    trading_days_per_year: int = 252
    #: T+2: sale proceeds settle ``settlement_days`` sessions later (T+3 before 2016). Buys that the
    #: settled cash does not cover are paid with the broker's advance on those proceeds ("ứng trước
    #: tiền bán"), charged ``advance_fee_per_day`` per settlement day on the amount advanced (an
    #: assumed 0.04 %/day, about 14.6 %/year, in the range VN brokers charge). Bought shares can be
    #: sold after settlement too, which a holding of ``rebalance_weeks`` (>= 5 sessions) always meets.
    settlement_days: int = 2
    advance_fee_per_day: float = 0.0004

    def __post_init__(self) -> None:
        if self.top_k < 1 or self.lot_size < 1 or self.rebalance_weeks < 1:
            raise ValueError("top_k, lot_size and rebalance_weeks must be >= 1")
        if self.initial_capital <= 0:
            raise ValueError("initial_capital must be positive")
        if not (0 <= self.fee_rate < 1 and 0 <= self.sell_tax_rate < 1):
            raise ValueError("fee_rate and sell_tax_rate must be fractions in [0, 1)")
        if not (0 <= self.settlement_days < 5 * self.rebalance_weeks):
            raise ValueError("settlement_days must be >= 0 and shorter than a holding period")
        if not 0 <= self.advance_fee_per_day < 0.01:
            raise ValueError("advance_fee_per_day must be a daily fraction in [0, 0.01)")

    @classmethod
    def from_settings(cls, settings: Any, **overrides: object) -> BacktestConfig:
        """Costs and basket size from a ``Settings`` object (or anything with those attributes)."""
        values = {
            "top_k": settings.backtest_top_k,
            "fee_rate": settings.fee_rate,
            "sell_tax_rate": settings.sell_tax_rate,
        }
        values.update(overrides)
        return cls(**values)


@dataclass
class BacktestResult:
    """Daily equity curve, trade blotter, holding-period positions and summary figures."""

    equity: pd.Series
    trades: pd.DataFrame
    positions: pd.DataFrame
    summary: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# market panels
# --------------------------------------------------------------------------------------------
@dataclass
class _Panel:
    dates: pd.DatetimeIndex
    symbols: list[str]
    open_: np.ndarray  # raw open, NaN when not traded
    trade_px: np.ndarray  # open, else last close carried forward
    close: np.ndarray  # raw close carried forward
    factor: np.ndarray  # carried forward

    @classmethod
    def build(cls, daily: pd.DataFrame, symbols: list[str]) -> _Panel:
        need = {"symbol", "date", "open", "close", "factor"}
        missing = need - set(daily.columns)
        if missing:
            raise ValueError(
                f"daily frame lacks {sorted(missing)}; pass the adjusted frame from "
                "stockvision.market.corporate_actions.adjust(daily)"
            )
        dates = pd.DatetimeIndex(pd.to_datetime(daily["date"]).unique()).sort_values()
        sub = daily[daily["symbol"].isin(symbols)]
        absent = sorted(set(symbols) - set(sub["symbol"].unique()))
        if absent:
            raise ValueError(f"no daily prices for symbols {absent}")

        def pivot(col: str) -> pd.DataFrame:
            wide = sub.pivot(index="date", columns="symbol", values=col)
            return wide.reindex(index=dates, columns=symbols).astype(float)

        open_ = pivot("open").where(lambda x: x > 0)
        close = pivot("close").where(lambda x: x > 0).ffill()
        factor = pivot("factor").ffill().bfill()
        trade_px = open_.fillna(close)
        return cls(
            dates=dates,
            symbols=list(symbols),
            open_=open_.to_numpy(),
            trade_px=trade_px.to_numpy(),
            close=close.to_numpy(),
            factor=factor.to_numpy(),
        )

    def next_trading_index(self, when: pd.Timestamp) -> int | None:
        i = int(self.dates.searchsorted(when, side="right"))
        return i if i < len(self.dates) else None

    def market_week_ends(self) -> pd.DatetimeIndex:
        iso = self.dates.isocalendar()
        key = iso["year"].to_numpy() * 100 + iso["week"].to_numpy()
        last = np.r_[key[1:] != key[:-1], True]
        return self.dates[last]


# --------------------------------------------------------------------------------------------
# simulation engine
# --------------------------------------------------------------------------------------------
def _advance_fee(spend: float, settled: float, cfg: BacktestConfig) -> float:
    """The fee of advancing today's unsettled sale proceeds for the part of ``spend`` above the
    settled cash (T + ``settlement_days``)."""
    return max(spend - settled, 0.0) * cfg.advance_fee_per_day * cfg.settlement_days


def _simulate(
    panel: _Panel,
    entries: list[int],
    targets: list[np.ndarray],
    exit_idx: int,
    cfg: BacktestConfig,
) -> BacktestResult:
    """Trade to equal-value ``targets`` (bool masks) at each entry day's open; liquidate at exit."""
    n_sym = len(panel.symbols)
    lot, fee, tax = cfg.lot_size, cfg.fee_rate, cfg.sell_tax_rate
    cash = float(cfg.initial_capital)
    units = np.zeros(n_sym)  # shares / factor, invariant to corporate actions
    trades: list[dict] = []
    positions: list[dict] = []
    turnovers: list[float] = []
    equity_parts: list[pd.Series] = []
    bounds = [*entries, exit_idx]

    def record(day: int, qty: np.ndarray, px: np.ndarray, side: str) -> None:
        for j in np.flatnonzero(qty > 0):
            value = qty[j] * px[j]
            trades.append(
                {
                    "date": panel.dates[day],
                    "symbol": panel.symbols[j],
                    "side": side,
                    "shares": float(qty[j]),
                    "price": float(px[j]),
                    "value": float(value),
                    "fee": float(value * fee),
                    "tax": float(value * tax) if side == "sell" else 0.0,
                }
            )

    for r, day in enumerate(entries):
        px, fac = panel.trade_px[day], panel.factor[day]
        shares = units * fac
        held_value = np.nansum(shares * px)
        equity_open = cash + held_value
        want = targets[r] & np.isfinite(panel.open_[day])
        n_want = int(want.sum())
        target = np.zeros(n_sym)
        if n_want:
            budget = equity_open / n_want
            with np.errstate(invalid="ignore", divide="ignore"):
                lots = np.floor(budget / (px * (1 + fee) * lot))
            target[want] = lots[want] * lot
        diff = target - shares
        # sells: everything of names leaving the book, whole lots of names being trimmed
        sell = np.where(target == 0, shares, np.floor(np.maximum(-diff, 0) / lot) * lot)
        sell = np.where(shares > 0, np.clip(sell, 0, shares), 0.0)
        buy = np.where(want, np.floor(np.maximum(diff, 0) / lot) * lot, 0.0)
        settled = cash  # the last sales settled weeks ago; today's settle at T + settlement_days
        cash += float(np.sum(sell * np.nan_to_num(px)) * (1 - fee - tax))
        cost = buy * np.nan_to_num(px) * (1 + fee)
        # sale costs and the advance fee can leave the budget a few lots short
        while cost.sum() + _advance_fee(float(cost.sum()), settled, cfg) > cash + 1e-6:
            j = int(np.argmax(cost))
            buy[j] -= lot
            cost[j] = buy[j] * px[j] * (1 + fee)
        cash -= float(cost.sum()) + _advance_fee(float(cost.sum()), settled, cfg)
        record(day, sell, px, "sell")
        record(day, buy, px, "buy")
        traded = float(np.sum((buy + sell) * np.nan_to_num(px)))
        turnovers.append(traded / (2 * equity_open))
        shares = shares - sell + buy
        units = np.where(shares > 0, shares / fac, 0.0)

        # mark to market at the close of every day until the next trading event
        seg = slice(day, bounds[r + 1])
        adj_close = np.nan_to_num(panel.close[seg] * panel.factor[seg])
        equity_parts.append(
            pd.Series(cash + adj_close @ units, index=panel.dates[seg], dtype=float)
        )
        nxt = bounds[r + 1]
        held = np.flatnonzero(units > 0)
        entry_adj = px[held] * fac[held]
        exit_adj = panel.trade_px[nxt, held] * panel.factor[nxt, held]
        net = exit_adj / entry_adj * (1 - fee - tax) / (1 + fee) - 1
        for j, ret in zip(held, net, strict=True):
            positions.append(
                {
                    "entry_date": panel.dates[day],
                    "exit_date": panel.dates[nxt],
                    "symbol": panel.symbols[j],
                    "shares": float(shares[j]),
                    "net_return": float(ret),
                }
            )

    # final liquidation at the exit day's open
    px, fac = panel.trade_px[exit_idx], panel.factor[exit_idx]
    shares = units * fac
    record(exit_idx, shares, px, "sell")
    cash += float(np.nansum(shares * px) * (1 - fee - tax))
    equity_parts.append(pd.Series([cash], index=panel.dates[[exit_idx]], dtype=float))
    equity = pd.concat(equity_parts)
    equity.index.name = "date"
    equity.name = "equity"

    trade_cols = ["date", "symbol", "side", "shares", "price", "value", "fee", "tax"]
    pos_cols = ["entry_date", "exit_date", "symbol", "shares", "net_return"]
    result = BacktestResult(
        equity=equity,
        trades=pd.DataFrame(trades, columns=trade_cols),
        positions=pd.DataFrame(positions, columns=pos_cols),
    )
    result.summary = _summary(equity, result.positions, turnovers, cfg)
    return result


def _summary(
    equity: pd.Series, positions: pd.DataFrame, turnovers: list[float], cfg: BacktestConfig
) -> dict[str, float]:
    """Annualised return/volatility/Sharpe, max drawdown (negative fraction), turnover, hit rate.

    ``turnover`` is the mean one-way turnover per rebalance, ``(buys + sells) / (2 * equity)``,
    excluding the initial purchase (NaN with a single rebalance). ``hit_rate`` is the share of
    holding-period positions whose return after a full round trip of costs is positive.
    """
    values = np.r_[cfg.initial_capital, equity.to_numpy()]
    hits = positions["net_return"].to_numpy()
    return {
        **_curve_figures(values, max(len(equity) - 1, 1), cfg),
        "turnover": float(np.mean(turnovers[1:])) if len(turnovers) > 1 else float("nan"),
        "hit_rate": float(np.mean(hits > 0)) if len(hits) else float("nan"),
        "final_equity": float(values[-1]),
        "n_rebalances": float(len(turnovers)),
        "n_days": float(len(equity)),
    }


def _curve_figures(values: np.ndarray, periods: int, cfg: BacktestConfig) -> dict[str, float]:
    """Total and annualised (over ``periods`` trading days) return, volatility, Sharpe and max
    drawdown of an equity curve."""
    rets = values[1:] / values[:-1] - 1
    ppy = cfg.trading_days_per_year
    total = values[-1] / values[0]
    annual = total ** (ppy / periods) - 1
    std = rets.std(ddof=1) if len(rets) > 1 else float("nan")
    rf_daily = (1 + cfg.risk_free_rate) ** (1 / ppy) - 1
    sharpe = (rets.mean() - rf_daily) / std * np.sqrt(ppy) if std and std > 0 else float("nan")
    drawdown = values / np.maximum.accumulate(values) - 1
    return {
        "total_return": float(total - 1),
        "annual_return": float(annual),
        "volatility": float(std * np.sqrt(ppy)),
        "sharpe": float(sharpe),
        "max_drawdown": float(drawdown.min()),
    }


def span_summary(
    equity: pd.Series, start: pd.Timestamp, end: pd.Timestamp, config: BacktestConfig | None = None
) -> dict[str, float]:
    """The figures of an equity curve restricted to ``[start, end]`` (rebased at ``start``).

    For comparing strategies with a benchmark that exists on a shorter span only (an index fund
    listed years after the test starts): every curve is measured on the same dates.
    """
    cfg = config or BacktestConfig()
    part = equity[(equity.index >= pd.Timestamp(start)) & (equity.index <= pd.Timestamp(end))]
    if len(part) < 2:
        raise ValueError(f"fewer than 2 equity marks between {start} and {end}")
    return _curve_figures(part.to_numpy(dtype=float), len(part) - 1, cfg)


# --------------------------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------------------------
def _schedule(
    panel: _Panel, week_ends: pd.DatetimeIndex, cfg: BacktestConfig
) -> tuple[list[pd.Timestamp], list[int], int]:
    rebalance_weeks = list(week_ends[:: cfg.rebalance_weeks])
    kept, entries = [], []
    for w in rebalance_weeks:
        i = panel.next_trading_index(w)
        if i is not None and (not entries or i > entries[-1]):
            kept.append(w)
            entries.append(i)
    if not entries:
        raise ValueError(
            "no trading day after any prediction week_end in the daily frame; the daily prices "
            "must extend beyond the predictions"
        )
    market_weeks = panel.market_week_ends()
    pos = int(market_weeks.searchsorted(kept[-1], side="left")) + cfg.rebalance_weeks
    final = panel.next_trading_index(market_weeks[pos]) if pos < len(market_weeks) else None
    exit_idx = final if final is not None else len(panel.dates) - 1
    if exit_idx <= entries[-1]:
        if len(entries) == 1:
            raise ValueError("daily prices end on the first entry day; nothing to hold")
        kept, entries, exit_idx = kept[:-1], entries[:-1], entries[-1]
    return kept, entries, exit_idx


def run_backtest(
    predictions: pd.DataFrame,
    daily: pd.DataFrame,
    config: BacktestConfig | None = None,
    score: str = "pred_log_return",
) -> BacktestResult:
    """Backtest a top-k long-only strategy on ``predictions`` (symbol, week_end, ``score``).

    ``daily`` is the adjusted daily frame (needs symbol, date, open, close, factor). The
    universe is every symbol that has a prediction; ties in the score break by symbol name.
    """
    cfg = config or BacktestConfig()
    missing = {"symbol", "week_end", score} - set(predictions.columns)
    if missing:
        raise ValueError(f"predictions lack columns {sorted(missing)}")
    preds = predictions[["symbol", "week_end", score]].dropna()
    if preds.duplicated(["symbol", "week_end"]).any():
        raise ValueError("predictions must have one row per (symbol, week_end); filter one model")
    symbols = sorted(preds["symbol"].unique())
    panel = _Panel.build(daily, symbols)
    wide = preds.pivot(index="week_end", columns="symbol", values=score).reindex(columns=symbols)
    wide.index = pd.DatetimeIndex(wide.index)
    kept, entries, exit_idx = _schedule(panel, wide.index.sort_values(), cfg)
    targets = []
    for w, day in zip(kept, entries, strict=True):
        s = wide.loc[w].to_numpy(dtype=float)
        s = np.where(np.isfinite(s) & np.isfinite(panel.open_[day]), s, -np.inf)
        order = np.argsort(-s, kind="stable")[: cfg.top_k]
        mask = np.zeros(len(symbols), dtype=bool)
        mask[order[np.isfinite(s[order])]] = True
        targets.append(mask)
    return _simulate(panel, entries, targets, exit_idx, cfg)


def buy_and_hold(
    daily: pd.DataFrame,
    symbols: list[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
    config: BacktestConfig | None = None,
) -> BacktestResult:
    """Equal-weight buy-and-hold of ``symbols``: buy at the open of trading day ``start``, sell at
    the open of trading day ``end`` (both must be trading days), same lots and costs."""
    cfg = config or BacktestConfig()
    panel = _Panel.build(daily, sorted(symbols))
    start_i = int(panel.dates.searchsorted(pd.Timestamp(start)))
    end_i = int(panel.dates.searchsorted(pd.Timestamp(end)))
    if start_i >= len(panel.dates) or end_i >= len(panel.dates) or end_i <= start_i:
        raise ValueError(
            f"buy-and-hold needs trading days start < end inside the data: {start}, {end}"
        )
    mask = np.isfinite(panel.open_[start_i])
    return _simulate(panel, [start_i], [mask], end_i, cfg)


def backtest_with_benchmark(
    predictions: pd.DataFrame,
    daily: pd.DataFrame,
    config: BacktestConfig | None = None,
    score: str = "pred_log_return",
) -> tuple[BacktestResult, BacktestResult]:
    """The strategy and the equal-weight buy-and-hold of the same universe over the same days."""
    strategy = run_backtest(predictions, daily, config, score)
    symbols = sorted(predictions.dropna(subset=[score])["symbol"].unique())
    bench = buy_and_hold(
        daily, symbols, strategy.equity.index[0], strategy.equity.index[-1], config
    )
    return strategy, bench


def top_fraction_size(predictions: pd.DataFrame, fraction: float) -> int:
    """``fraction`` of the median number of names per week (at least 1): the basket size."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    per_week = predictions.groupby("week_end").size()
    if per_week.empty:
        raise ValueError("no predictions to backtest")
    return max(1, round(fraction * float(per_week.median())))


def top_fraction_backtest(
    predictions: pd.DataFrame,
    daily: pd.DataFrame,
    fraction: float = 0.1,
    config: BacktestConfig | None = None,
    score: str = "pred_log_return",
) -> tuple[BacktestResult, BacktestResult]:
    """Long the top ``fraction`` of the names by ``score`` vs equal weight of ALL the same names.

    For a broad universe (the whole market): ``predictions`` holds the rows of the tradable names
    only (e.g. the liquid ones of each week). ``top_k`` becomes ``fraction`` of the median number of
    names per week (at least 1); the benchmark holds every name of the rebalance week, equal value,
    rebalanced on the same days with the same lots and costs (a constant score, so only the
    universe differs from the strategy). Returns (strategy, benchmark).
    """
    cfg = config or BacktestConfig()
    rows = predictions.dropna(subset=[score])
    per_week = rows.groupby("week_end").size()
    top_k = top_fraction_size(rows, fraction)
    strategy = run_backtest(rows, daily, replace(cfg, top_k=top_k), score)
    every = rows.assign(**{score: 0.0})
    bench = run_backtest(every, daily, replace(cfg, top_k=int(per_week.max())), score)
    return strategy, bench
