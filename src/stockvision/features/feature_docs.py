"""The 21 weekly features: names in contract order and an exact, bilingual description of each.

The chatbot quotes ``FEATURE_DOCS`` to explain a prediction, so every entry states the exact formula,
its window, its unit and a plain-language reading in English and Vietnamese.

Notation: ``C, H, L`` are back-adjusted prices; ``C_w`` is the adjusted close of market week ``w``
(the symbol's last trading day of that ISO week); ``w - k`` means ``k`` *market* weeks earlier (weeks
in which the market traded; if the symbol has no bar in that week the value is NaN). Daily windows
count the symbol's own trading days ``d``; ``r_d = C_d / C_{d-1} - 1``, ``lr_d = ln(C_d / C_{d-1})``.
Daily indicators are sampled on the symbol's last trading day of the week. Traded value
``TV_d = raw close * raw volume`` (VND) is untouched by back-adjustment, so turnover and Amihud do
not jump when a corporate action rescales the past. Every other feature is a ratio of prices or of
volumes, hence invariant to the rescaling of a symbol's past that each new corporate action brings.
"""

from __future__ import annotations

FEATURES: list[str] = [
    "ret_1w",
    "ret_4w",
    "ret_12w",
    "ret_26w",
    "ret_52w",
    "ma_cross_10_40_w",
    "price_vs_ma20_w",
    "breakout_20w",
    "vol_4w",
    "atr_4w_pct",
    "max_1w",
    "max_4w",
    "bb_width_w",
    "vol_zscore_12w",
    "turnover_w",
    "obv_mom_4w",
    "amihud_w",
    "illiq_rank",
    "rsi_14w",
    "rsi_speed",
    "macd_hist_w",
]


def _ret(k: int) -> dict[str, str]:
    weeks = f"{k} week" + ("s" if k > 1 else "")
    return {
        "formula": f"C_w / C_(w-{k}) - 1",
        "window": f"{k} market weeks (+1 bar)",
        "unit": "fraction (0.05 = +5%)",
        "basis": "weekly",
        "description_en": f"Price return over the last {weeks}, adjusted for corporate actions.",
        "description_vi": (
            f"Tỷ suất sinh lời của giá trong {k} tuần gần nhất (giá đã điều chỉnh theo "
            "các sự kiện doanh nghiệp)."
        ),
    }


FEATURE_DOCS: dict[str, dict[str, str]] = {
    "ret_1w": _ret(1),
    "ret_4w": _ret(4),
    "ret_12w": _ret(12),
    "ret_26w": _ret(26),
    "ret_52w": _ret(52),
    "ma_cross_10_40_w": {
        "formula": "mean(C, last 10 weeks) / mean(C, last 40 weeks) - 1",
        "window": "10 and 40 market weeks (at least 80% of the weeks with data)",
        "unit": "fraction",
        "basis": "weekly",
        "description_en": (
            "Gap between the 10-week and the 40-week moving averages; positive in an uptrend "
            "(golden-cross territory), negative in a downtrend."
        ),
        "description_vi": (
            "Chênh lệch giữa đường trung bình động 10 tuần và 40 tuần; dương khi xu hướng tăng, "
            "âm khi xu hướng giảm."
        ),
    },
    "price_vs_ma20_w": {
        "formula": "C_w / mean(C, last 20 weeks) - 1",
        "window": "20 market weeks (at least 16 with data)",
        "unit": "fraction",
        "basis": "weekly",
        "description_en": "How far the price stands above (+) or below (-) its 20-week average.",
        "description_vi": (
            "Giá hiện tại cao hơn (+) hay thấp hơn (-) bao nhiêu so với trung bình 20 tuần."
        ),
    },
    "breakout_20w": {
        "formula": "C_w / max(H over weeks w-20 .. w-1)",
        "window": "the 20 market weeks before the current one (at least 16 with data)",
        "unit": "ratio (> 1 = close above the previous 20-week high)",
        "basis": "weekly",
        "description_en": (
            "Close relative to the highest weekly high of the previous 20 weeks; above 1 is a "
            "breakout to a new 20-week high."
        ),
        "description_vi": (
            "Giá đóng cửa so với mức cao nhất của 20 tuần trước đó; lớn hơn 1 nghĩa là giá "
            "vượt đỉnh 20 tuần (breakout)."
        ),
    },
    "vol_4w": {
        "formula": "std(lr_d over the last 20 trading days, ddof=1)",
        "window": "20 trading days",
        "unit": "daily log-return standard deviation",
        "basis": "daily",
        "description_en": "Recent volatility: typical size of a daily move over about a month.",
        "description_vi": (
            "Độ biến động gần đây: mức dao động giá điển hình mỗi ngày trong khoảng một tháng."
        ),
    },
    "atr_4w_pct": {
        "formula": (
            "mean(TR_d over the last 20 trading days) / C_d, "
            "TR_d = max(H_d, C_(d-1)) - min(L_d, C_(d-1))"
        ),
        "window": "20 trading days",
        "unit": "fraction of the price",
        "basis": "daily",
        "description_en": "Average true range (daily trading range incl. gaps) as a share of price.",
        "description_vi": (
            "Biên độ dao động thực trung bình (ATR) mỗi ngày, tính theo phần trăm của giá."
        ),
    },
    "max_1w": {
        "formula": "max(|r_d| over the last 5 trading days)",
        "window": "5 trading days",
        "unit": "fraction",
        "basis": "daily",
        "description_en": ("Largest absolute daily move of the last week (HoSE caps a day at 7%)."),
        "description_vi": (
            "Biến động giá lớn nhất trong một ngày của tuần qua (trần/sàn HoSE là 7%)."
        ),
    },
    "max_4w": {
        "formula": "max(|r_d| over the last 20 trading days)",
        "window": "20 trading days",
        "unit": "fraction",
        "basis": "daily",
        "description_en": "Largest absolute daily move of the last four weeks (lottery-like jumps).",
        "description_vi": "Biến động giá lớn nhất trong một ngày của bốn tuần qua.",
    },
    "bb_width_w": {
        "formula": "4 * std(C, last 20 weeks, ddof=0) / mean(C, last 20 weeks)",
        "window": "20 market weeks (at least 16 with data)",
        "unit": "fraction of the price",
        "basis": "weekly",
        "description_en": (
            "Width of the 20-week Bollinger bands (+/- 2 std); narrow bands mean a quiet, "
            "coiled market."
        ),
        "description_vi": (
            "Độ rộng dải Bollinger 20 tuần (± 2 độ lệch chuẩn); dải hẹp cho thấy thị trường "
            "đang tích lũy."
        ),
    },
    "vol_zscore_12w": {
        "formula": (
            "(ln V_w - mean(ln V, weeks w-12 .. w-1)) / std(ln V, weeks w-12 .. w-1, ddof=1), "
            "V = average daily adjusted volume of the week (holiday weeks are not penalised)"
        ),
        "window": "the 12 market weeks before the current one (at least 10 with data)",
        "unit": "z-score",
        "basis": "weekly",
        "description_en": (
            "How unusual this week's volume is versus the previous 12 weeks (log scale); "
            "+2 is a volume spike."
        ),
        "description_vi": (
            "Khối lượng giao dịch tuần này bất thường thế nào so với 12 tuần trước "
            "(thang log); +2 là khối lượng tăng đột biến."
        ),
    },
    "turnover_w": {
        "formula": "ln(mean(TV_d over the last 5 trading days))",
        "window": "5 trading days",
        "unit": "log VND",
        "basis": "daily",
        "description_en": (
            "Liquidity: log of the average daily traded value (VND) of the last week."
        ),
        "description_vi": (
            "Thanh khoản: logarit của giá trị giao dịch bình quân mỗi ngày (VND) trong tuần qua."
        ),
    },
    "obv_mom_4w": {
        "formula": (
            "sum(sign(r_d) * Vadj_d) / sum(Vadj_d) over the last 20 trading days "
            "(= 20-day OBV change / volume traded)"
        ),
        "window": "20 trading days",
        "unit": "fraction in [-1, 1]",
        "basis": "daily",
        "description_en": (
            "On-balance-volume momentum: share of the month's volume traded on up days minus "
            "down days; positive means buying pressure."
        ),
        "description_vi": (
            "Động lượng OBV: tỷ lệ khối lượng của các phiên tăng trừ các phiên giảm trong "
            "tháng qua; dương nghĩa là lực mua chiếm ưu thế."
        ),
    },
    "amihud_w": {
        "formula": "mean(|r_d| / TV_d * 1e9 over the last 5 trading days with TV_d > 0)",
        "window": "5 trading days (at least 3 with trades)",
        "unit": "return per billion VND traded",
        "basis": "daily",
        "description_en": (
            "Amihud illiquidity: how much the price moves per billion VND traded; high means "
            "illiquid."
        ),
        "description_vi": (
            "Chỉ số kém thanh khoản Amihud: giá biến động bao nhiêu cho mỗi tỷ đồng giao dịch; "
            "càng cao càng kém thanh khoản."
        ),
    },
    "illiq_rank": {
        "formula": "percentile rank of amihud_w among all symbols with the same week_end",
        "window": "cross-section of one week",
        "unit": "rank in (0, 1]",
        "basis": "cross-section",
        "description_en": (
            "Illiquidity rank versus the rest of the market this week (1 = least liquid)."
        ),
        "description_vi": (
            "Thứ hạng kém thanh khoản so với các mã khác trong cùng tuần (1 = kém thanh khoản "
            "nhất)."
        ),
    },
    "rsi_14w": {
        "formula": (
            "100 * AG / (AG + AL); AG, AL = Wilder averages (alpha = 1/14, seeded with the mean "
            "of the first 14) of weekly gains / losses of C"
        ),
        "window": "14 market weeks warm-up, then recursive over the whole history",
        "unit": "0-100",
        "basis": "weekly",
        "description_en": (
            "Weekly Relative Strength Index: above 70 overbought, below 30 oversold."
        ),
        "description_vi": (
            "Chỉ số sức mạnh tương đối RSI theo tuần: trên 70 là quá mua, dưới 30 là quá bán."
        ),
    },
    "rsi_speed": {
        "formula": "rsi_14w_w - rsi_14w_(w-4) (RSI as of 4 market weeks earlier)",
        "window": "4 market weeks",
        "unit": "RSI points",
        "basis": "weekly",
        "description_en": "Change of the weekly RSI over four weeks: momentum of momentum.",
        "description_vi": (
            "Mức thay đổi của RSI tuần trong bốn tuần: tốc độ tăng/giảm của động lượng."
        ),
    },
    "macd_hist_w": {
        "formula": (
            "(MACD - signal) / C_w; MACD = EMA12(C) - EMA26(C), signal = EMA9(MACD), "
            "each EMA seeded with the mean of its first values"
        ),
        "window": "34 market weeks warm-up, then recursive over the whole history",
        "unit": "fraction of the price",
        "basis": "weekly",
        "description_en": (
            "Weekly MACD histogram relative to price: positive and rising means upward "
            "momentum is strengthening."
        ),
        "description_vi": (
            "Histogram MACD theo tuần so với giá: dương và tăng dần nghĩa là đà tăng đang mạnh lên."
        ),
    },
}

assert list(FEATURE_DOCS) == FEATURES, "FEATURE_DOCS must follow FEATURES order"
