"""Is the missing CRPS skill in the shape or the scale spread of the distribution? Five checks.

The served distributions are a location-scale Student-t of the 4-week log return. On the whole
market their CRPS skill over the constant-width random walk stops near 1.7-1.8 % (see
docs/evaluation.md), so this script asks whether a different *shape* around the same location
and scale would score better. It reads the saved test predictions of one price model
(``bench_forecast.py --predictions``), splits the test weeks in halves (the development half,
where anything is fitted, and the held-out half, where it is scored) and reports:

1. **No-trade months.** The share of rows whose 4-week log return is exactly 0 (no trade or an
   unchanged close), by test year, their mean CRPS and the share of the model's total CRPS they
   carry; then a zero-inflated mixture ``pi * delta_0 + (1 - pi) * t``, with ``pi`` the
   development half's zero share in bins of the model's log scale, scored on the held-out half.
2. **Empirical residual shape.** The standardised residuals ``(y - loc) / scale`` of the
   development half replace the Student-t (``loc + scale * q_j`` with the residual quantiles
   ``q_j``): scored on the held-out half, pooled and per scale quintile; the in-sample version
   (held-out residuals scored on themselves, an oracle that cannot be served) bounds the gain.
3. **A scale floor.** Stale prices (months without a trade) shrink a volatility model's scale to
   well under 1 % a month before a jump; the largest standardised residuals are such rows. A
   floor on the scale, chosen on the development half from a grid, scored on the held-out half.
4. **Coverage by predicted scale.** The 80 % interval's coverage in buckets of the model's own
   scale (the issue's quintiles are of realised past volatility), with each bucket's share of
   exact-zero returns: where the calmest forecasts miss.
5. **Shrinking the scale's spread.** ``c * exp(m_t + a (log scale - m_t))`` with ``m_t`` the
   week's cross-sectional mean log scale: ``a < 1`` pulls every stock's scale toward the week's
   typical one (the cure if coverage rises with the scale); ``a`` and ``c`` chosen on the
   development half from a grid, scored on the held-out half.

Nothing here is served; it measures where skill is not.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_forecast_shape.py --run /tmp/run:har_vol
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

from stockvision.evaluation.scoring import distribution_rows
from stockvision.models.distribution import crps_student_t


def _mean_abs_t(df: float) -> float:
    """E|T| of a standard Student-t with ``df`` > 1 degrees of freedom (normal when inf)."""
    if not math.isfinite(df):
        return math.sqrt(2 / math.pi)
    return 2 * math.sqrt(df) / ((df - 1) * special.beta(0.5, df / 2))


def load_rows(spec: str) -> pd.DataFrame:
    """``DIR:MODEL`` -> the scored rows: y, loc, scale, df, the model's own CRPS and 80 % cover.

    CRPS and coverage come from the project's scoring (``distribution_rows``), which keeps the
    rows it scores in their order; the filter below is the same, so the columns line up.
    """
    path, _, model = spec.rpartition(":")
    preds = pd.read_parquet(Path(path) / "predictions.parquet")
    df = preds[preds["model"] == model]
    df = df[
        np.isfinite(df["actual_log_return"])
        & np.isfinite(df["pred_log_return"])
        & (df["pred_scale"] > 0)
    ]
    if df.empty:
        raise SystemExit(f"{spec}: no distribution rows for model {model!r}")
    scored = distribution_rows(df)
    return pd.DataFrame(
        {
            "week_end": df["week_end"].to_numpy(),
            "y": df["actual_log_return"].to_numpy(float),
            "loc": df["pred_log_return"].to_numpy(float),
            "scale": df["pred_scale"].to_numpy(float),
            "df": df["dist_df"].fillna(np.inf).to_numpy(float),
            "crps": scored["crps"].to_numpy(),
            "cover_80": scored["cover_80"].to_numpy(),
        }
    )


def mixture_crps(rows: pd.DataFrame, pi: np.ndarray) -> np.ndarray:
    """CRPS of ``pi * delta_0 + (1 - pi) * G`` with G the row's Student-t.

    With ``A(x) = E|Z - x|`` and ``D = E|Z - Z'|`` under G:
    ``CRPS = pi |y| + (1 - pi) A(y) - 1/2 [(1 - pi)^2 D + 2 pi (1 - pi) A(0)]``,
    ``A(x) = CRPS_G(x) + D / 2`` and ``D = 2 (scale E|T| - CRPS_G(loc))``.
    """
    y, loc, scale = (rows[c].to_numpy() for c in ("y", "loc", "scale"))
    out = np.empty(len(rows))
    for value in np.unique(rows["df"]):
        sel = (rows["df"] == value).to_numpy()
        ys, ls, ss, p = y[sel], loc[sel], scale[sel], pi[sel]
        d = 2 * (ss * _mean_abs_t(value) - crps_student_t(ls, ls, ss, value))
        a_y = crps_student_t(ys, ls, ss, value) + d / 2
        a_0 = crps_student_t(np.zeros_like(ys), ls, ss, value) + d / 2
        out[sel] = p * np.abs(ys) + (1 - p) * a_y - 0.5 * ((1 - p) ** 2 * d + 2 * p * (1 - p) * a_0)
    return out


def empirical_crps(u: np.ndarray, scale: np.ndarray, atoms: np.ndarray) -> np.ndarray:
    """CRPS of ``loc + scale * X``, X uniform on ``atoms``, at standardised outcomes ``u``.

    ``E|X - u|`` from sorted atoms and their cumulative sums; ``E|X - X'|`` is one constant.
    """
    q = np.sort(atoms)
    m = len(q)
    csum = np.concatenate([[0.0], np.cumsum(q)])
    k = np.searchsorted(q, u)
    below = k * u - csum[k]
    above = (csum[m] - csum[k]) - (m - k) * u
    e_abs = (below + above) / m
    i = np.arange(1, m + 1)
    e_pair = 2 * np.sum((2 * i - m - 1) * q) / m**2
    return scale * (e_abs - 0.5 * e_pair)


def _student_crps(rows: pd.DataFrame, scale: np.ndarray) -> np.ndarray:
    out = np.empty(len(rows))
    y, loc = rows["y"].to_numpy(), rows["loc"].to_numpy()
    for value in np.unique(rows["df"]):
        sel = (rows["df"] == value).to_numpy()
        out[sel] = crps_student_t(y[sel], loc[sel], scale[sel], value)
    return out


def _skill(new: np.ndarray, base: np.ndarray) -> str:
    return f"{(1 - new.mean() / base.mean()) * 100:+.2f} %"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="DIR:MODEL of a price model's saved predictions")
    ap.add_argument("--bins", default="10,20,50", help="log-scale bins for the zero share")
    ap.add_argument("--atoms", type=int, default=1000, help="quantiles of the residual shape")
    ap.add_argument(
        "--floors", default="0.01,0.02,0.03,0.04,0.05,0.06", help="scale floors to try (4 weeks)"
    )
    args = ap.parse_args()
    rows = load_rows(args.run)
    weeks = np.sort(rows["week_end"].unique())
    split = pd.Timestamp(weeks[len(weeks) // 2])
    dev = rows[rows["week_end"] < split].reset_index(drop=True)
    held = rows[rows["week_end"] >= split].reset_index(drop=True)
    print(
        f"{args.run}: {len(rows):,} rows, test weeks {pd.Timestamp(weeks[0]).date()} .. "
        f"{pd.Timestamp(weeks[-1]).date()} ({len(weeks)}); development < {split.date()} "
        f"({len(dev):,} rows) <= held-out ({len(held):,} rows); tail df values "
        + ", ".join(f"{v:g}: {n:,}" for v, n in rows["df"].value_counts().items())
    )

    # 1. no-trade months
    zero = rows["y"] == 0.0
    by_year = zero.groupby(pd.DatetimeIndex(rows["week_end"]).year).mean()
    print(
        f"\n1. exact-zero 4-week returns: {zero.mean() * 100:.1f} % of rows; by test year "
        + " ".join(f"{y}: {v * 100:.1f} %" for y, v in by_year.items())
    )
    print(
        f"   mean CRPS zero rows {rows.loc[zero, 'crps'].mean():.4f}, nonzero "
        f"{rows.loc[~zero, 'crps'].mean():.4f}; share of total CRPS on zero rows "
        f"{rows.loc[zero, 'crps'].sum() / rows['crps'].sum() * 100:.1f} %"
    )
    for n_bins in (int(b) for b in args.bins.split(",")):
        edges = np.quantile(np.log(dev["scale"]), np.linspace(0, 1, n_bins + 1))[1:-1]
        share = (dev["y"] == 0.0).groupby(np.searchsorted(edges, np.log(dev["scale"]))).mean()
        pi = share.reindex(range(n_bins), fill_value=0.0).to_numpy()[
            np.searchsorted(edges, np.log(held["scale"]))
        ]
        mix = mixture_crps(held, pi)
        print(
            f"   zero-inflated mixture, pi from {n_bins} log-scale bins of the development half: "
            f"held-out CRPS {mix.mean():.5f} vs {held['crps'].mean():.5f}, skill vs the model "
            f"{_skill(mix, held['crps'].to_numpy())}"
        )

    # 2. empirical residual shape
    levels = (np.arange(args.atoms) + 0.5) / args.atoms
    u_dev = ((dev["y"] - dev["loc"]) / dev["scale"]).to_numpy()
    u_held = ((held["y"] - held["loc"]) / held["scale"]).to_numpy()
    base = held["crps"].to_numpy()
    pooled = empirical_crps(u_held, held["scale"].to_numpy(), np.quantile(u_dev, levels))
    oracle = empirical_crps(u_held, held["scale"].to_numpy(), np.quantile(u_held, levels))
    print(
        f"\n2. empirical residual shape ({args.atoms} quantiles): development residuals -> "
        f"held-out CRPS {pooled.mean():.5f}, skill vs the model {_skill(pooled, base)}; "
        f"in-sample oracle {_skill(oracle, base)}"
    )
    edges = np.quantile(dev["scale"], [0.2, 0.4, 0.6, 0.8])
    q_dev = np.searchsorted(edges, dev["scale"].to_numpy())
    q_held = np.searchsorted(edges, held["scale"].to_numpy())
    per_bin = np.empty(len(held))
    for b in range(5):
        sel = q_held == b
        atoms = np.quantile(u_dev[q_dev == b], levels)
        per_bin[sel] = empirical_crps(u_held[sel], held["scale"].to_numpy()[sel], atoms)
    print(
        f"   one shape per development scale quintile: held-out skill vs the model "
        f"{_skill(per_bin, base)}"
    )
    sd = pd.Series(u_dev)
    print(
        f"   development residuals: std {sd.std():.3f}, skew {sd.skew():.3f}, excess kurtosis "
        f"{sd.kurt():.2f}, exact-zero returns {(dev['y'] == 0).mean() * 100:.1f} %"
    )

    big = np.abs(np.concatenate([u_dev, u_held])) > 20
    print(
        f"   rows with |standardised residual| > 20: {big.sum():,}; model scale quantiles "
        "0.1/1/5/50 %: "
        + " ".join(f"{v:.4f}" for v in np.quantile(rows["scale"], [0.001, 0.01, 0.05, 0.5]))
    )

    # 3. a scale floor chosen on the development half
    gains = {}
    for floor in (float(f) for f in args.floors.split(",")):
        new = _student_crps(dev, np.maximum(dev["scale"].to_numpy(), floor))
        gains[floor] = 1 - new.mean() / dev["crps"].mean()
    best = max(gains, key=gains.get)
    held_new = _student_crps(held, np.maximum(held["scale"].to_numpy(), best))
    print(
        "\n3. scale floor, development skill vs the model by floor: "
        + " ".join(f"{f:g}: {g * 100:+.3f} %" for f, g in gains.items())
        + f"; chosen {best:g} ({(held['scale'] < best).mean() * 100:.1f} % of held-out rows "
        f"raised): held-out skill vs the model {_skill(held_new, base)}"
    )

    # 4. coverage of the 80 % interval by the model's own scale
    cuts = [0, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 1.0]
    bucket = pd.qcut(rows["scale"], cuts)
    table = pd.DataFrame({"inside": rows["cover_80"], "zero": rows["y"] == 0.0}).groupby(
        bucket, observed=True
    )
    print(
        "\n4. 80 % coverage by the model's scale (quantile range of rows: coverage, zero share, n)"
    )
    for (label, part), lo, hi in zip(table, cuts[:-1], cuts[1:], strict=True):
        print(
            f"   scale q{lo * 100:g}-{hi * 100:g} % {label}: {part['inside'].mean() * 100:.1f} %, "
            f"zero {part['zero'].mean() * 100:.1f} %, n {len(part):,}"
        )

    # 5. shrink the spread of the scale across stocks, toward the week's typical scale
    log_s = np.log(rows["scale"].to_numpy())
    centre = pd.Series(log_s).groupby(rows["week_end"].to_numpy()).transform("mean").to_numpy()
    is_dev = (rows["week_end"] < split).to_numpy()
    grid = {}
    for a in (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1):
        for c in (0.9, 0.95, 1.0, 1.05, 1.1):
            grid[(a, c)] = _student_crps(rows, c * np.exp(centre + a * (log_s - centre)))
    model = rows["crps"].to_numpy()
    dev_gain = {k: 1 - v[is_dev].mean() / model[is_dev].mean() for k, v in grid.items()}
    a, c = max(dev_gain, key=dev_gain.get)
    print(
        f"\n5. scale spread shrinkage: chosen on development a = {a:g}, c = {c:g} "
        f"(development {dev_gain[(a, c)] * 100:+.3f} %): held-out skill vs the model "
        f"{_skill(grid[(a, c)][~is_dev], model[~is_dev])}; at c = 1 held-out by a: "
        + " ".join(
            f"{k[0]:g}: {_skill(v[~is_dev], model[~is_dev])}"
            for k, v in grid.items()
            if k[1] == 1.0
        )
    )


if __name__ == "__main__":
    main()
