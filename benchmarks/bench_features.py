"""Benchmark: vectorised weekly features vs a straightforward per-symbol pandas reference.

Builds a simulated market (default 1,600 symbols x 10 years, ~4M daily rows), adjusts it for its
stock dividends, then times :func:`stockvision.features.compute_features` on the whole universe.
The reference computes the same 21 features one symbol at a time the obvious way (per-symbol
rolling windows, ``rolling().apply`` with Python lambdas for the max-abs-return features, Python
loops for RSI/MACD); it runs on a subset, its values are asserted equal to the vectorised ones on
that subset, and its time is extrapolated per symbol.

Targets: full universe < 20 s, and >= 20x faster per symbol than the reference.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_features.py [--symbols 1600 --years 10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from stockvision.data.sources.synthetic import generate_market
from stockvision.features import FEATURES, compute_features
from stockvision.market.corporate_actions import adjust


def _market_week_ends(daily: pd.DataFrame) -> pd.Series:
    """Market week end of every row: the latest trading day of its ISO week over all symbols."""
    week_start = daily["date"] - pd.to_timedelta(daily["date"].dt.day_of_week, unit="D")
    return daily.groupby(week_start)["date"].transform("max")


def _rsi_loop(close: np.ndarray, period: int = 14) -> np.ndarray:
    out = np.full(len(close), np.nan)
    prev, n, sg, sl, ag, al, rsi = np.nan, 0, 0.0, 0.0, np.nan, np.nan, np.nan
    for i, x in enumerate(close):
        if not np.isnan(x):
            if not np.isnan(prev):
                ch = x - prev
                g, lo = max(ch, 0.0), max(-ch, 0.0)
                if n >= period:
                    ag = (ag * (period - 1) + g) / period
                    al = (al * (period - 1) + lo) / period
                    rsi = 100 * ag / (ag + al) if ag + al > 0 else np.nan
                else:
                    sg, sl, n = sg + g, sl + lo, n + 1
                    if n == period:
                        ag, al = sg / period, sl / period
                        rsi = 100 * ag / (ag + al) if ag + al > 0 else np.nan
            prev = x
        out[i] = rsi
    return out


def _ema_loop(x: np.ndarray, span: int, present: np.ndarray) -> np.ndarray:
    alpha = 2.0 / (span + 1)
    out = np.full(len(x), np.nan)
    n, acc, ema = 0, 0.0, np.nan
    for i in range(len(x)):
        if present[i]:
            if n >= span:
                ema = ema + alpha * (x[i] - ema)
            else:
                acc, n = acc + x[i], n + 1
                if n == span:
                    ema = acc / span
        out[i] = ema
    return out


def reference_features(daily: pd.DataFrame) -> pd.DataFrame:
    """The same features, one symbol at a time with plain pandas (the 'obvious' code)."""
    daily = daily.assign(week_end=_market_week_ends(daily))
    calendar = pd.DatetimeIndex(daily["week_end"].unique()).sort_values()
    parts = []
    for sym, g in daily.groupby("symbol", sort=True):
        g = g.sort_values("date").reset_index(drop=True)
        c = g["adj_close"]
        prev = c.shift(1)
        ret = c / prev - 1
        logret = np.log(c / prev)
        value = g["close"] * g["volume"]
        tr = pd.concat([g["adj_high"], prev], axis=1).max(axis=1, skipna=False) - pd.concat(
            [g["adj_low"], prev], axis=1
        ).min(axis=1, skipna=False)
        mean_value = value.rolling(5).mean()
        illiq = ret.abs() / value.where(value > 0) * 1e9
        vol_sum = g["adj_volume"].rolling(20).sum()
        d = pd.DataFrame(
            {
                "week_end": g["week_end"],
                "vol_4w": logret.rolling(20).std(),
                "atr_4w_pct": tr.rolling(20).mean() / c,
                "max_1w": ret.rolling(5).apply(lambda x: np.max(np.abs(x)), raw=True),
                "max_4w": ret.rolling(20).apply(lambda x: np.max(np.abs(x)), raw=True),
                "turnover_w": np.log(mean_value.where(mean_value > 0)),
                "obv_mom_4w": (np.sign(ret) * g["adj_volume"]).rolling(20).sum()
                / vol_sum.where(vol_sum != 0),
                "amihud_w": illiq.rolling(5, min_periods=3).mean(),
            }
        )
        daily_w = d.groupby("week_end").tail(1).set_index("week_end")  # last day, NaN kept
        wk = g.groupby("week_end").agg(
            close=("adj_close", "last"),
            high=("adj_high", "max"),
            volume=("adj_volume", "sum"),
            days=("adj_volume", "size"),
        )
        w = wk.reindex(calendar)
        cw = w["close"]
        f = pd.DataFrame(index=calendar)
        for k in (1, 4, 12, 26, 52):
            f[f"ret_{k}w"] = cw / cw.shift(k) - 1
        ma20 = cw.rolling(20, min_periods=16).mean()
        f["ma_cross_10_40_w"] = (
            cw.rolling(10, min_periods=8).mean() / cw.rolling(40, min_periods=32).mean() - 1
        )
        f["price_vs_ma20_w"] = cw / ma20 - 1
        f["breakout_20w"] = cw / w["high"].rolling(20, min_periods=16).max().shift(1)
        f["bb_width_w"] = 4 * cw.rolling(20, min_periods=16).std(ddof=0) / ma20
        lv = np.log((w["volume"] / w["days"]).where(w["volume"] > 0))
        sd = lv.rolling(12, min_periods=10).std().shift(1)
        f["vol_zscore_12w"] = (lv - lv.rolling(12, min_periods=10).mean().shift(1)) / sd.where(
            sd > 0
        )
        rsi = _rsi_loop(cw.to_numpy())
        f["rsi_14w"] = rsi
        f["rsi_speed"] = rsi - pd.Series(rsi, index=calendar).shift(4).to_numpy()
        present = cw.notna().to_numpy()
        x = cw.to_numpy()
        line = _ema_loop(x, 12, present) - _ema_loop(x, 26, present)
        sig = _ema_loop(line, 9, present & ~np.isnan(line))
        f["macd_hist_w"] = (line - sig) / x
        f = f.loc[wk.index].join(daily_w)
        f.index = pd.MultiIndex.from_arrays(
            [pd.Index([sym] * len(f), dtype="str"), f.index], names=["symbol", "week_end"]
        )
        parts.append(f)
    out = pd.concat(parts)
    out["illiq_rank"] = out.groupby(level="week_end")["amihud_w"].rank(pct=True)
    return out[FEATURES]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=1600)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--ref-symbols", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    t0 = time.perf_counter()
    market = generate_market(args.symbols, args.years, seed=args.seed, return_events=True)
    events = market.events.rename(columns={"ex_date": "date"})[["symbol", "date", "price_factor"]]
    adjusted = adjust(market.daily, events=events.rename(columns={"price_factor": "ratio"}))
    print(
        f"data: {args.symbols} symbols x {args.years} years = {len(adjusted):,} daily rows, "
        f"{len(events)} stock dividends (generated + adjusted in {time.perf_counter() - t0:.1f} s)"
    )

    t0 = time.perf_counter()
    full = compute_features(adjusted)
    t_vec = time.perf_counter() - t0
    print(f"vectorised, full universe: {t_vec:.2f} s -> {full.shape[0]:,} rows x {full.shape[1]}")

    subset_syms = sorted(adjusted["symbol"].unique())[: args.ref_symbols]
    subset = adjusted[adjusted["symbol"].isin(subset_syms)].reset_index(drop=True)
    t0 = time.perf_counter()
    ref = reference_features(subset)
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    vec_subset = compute_features(subset)
    t_vec_subset = time.perf_counter() - t0
    assert ref.index.equals(vec_subset.index), "reference and vectorised rows differ"
    np.testing.assert_allclose(
        vec_subset.to_numpy(), ref.to_numpy(), rtol=1e-9, atol=1e-12, equal_nan=True
    )
    print(f"reference equals vectorised on {len(subset_syms)} symbols (rtol 1e-9)")

    per_sym_ref = t_ref / len(subset_syms)
    per_sym_vec = t_vec / args.symbols
    print(
        f"reference, {len(subset_syms)} symbols: {t_ref:.2f} s ({per_sym_ref * 1e3:.1f} ms/symbol)"
    )
    print(f"vectorised, same subset: {t_vec_subset:.3f} s")
    print(
        f"reference extrapolated to {args.symbols} symbols: {per_sym_ref * args.symbols:.0f} s; "
        f"vectorised {per_sym_vec * 1e3:.2f} ms/symbol"
    )
    speedup = per_sym_ref / per_sym_vec
    print(f"speed-up per symbol: {speedup:.0f}x")
    ok = t_vec < 20 and speedup >= 20
    print(f"targets (< 20 s full universe, >= 20x per symbol): {'MET' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
