"""Answer formatting in Vietnamese or English, from ``Prediction`` objects and metrics dicts.

Number style (chosen, applied everywhere):

* Vietnamese: "." groups thousands and "," marks decimals ("1.234,5"; "68,5 nghìn đồng"; "+5,4%").
* English: "," groups thousands and "." marks decimals ("1,234.5"; "68.5k VND"; "+5.4%").
* Prices are shown in thousand VND like on Vietnamese trading boards: 1 decimal, 2 below 10k.
* Probabilities are whole percents; dates are dd/mm/yyyy (vi) and ISO yyyy-mm-dd (en).

Every number printed comes from the inputs; nothing is estimated here. Functions return the *body*;
``compose`` adds the simulated-data label and the one-line disclaimer so they can never be lost
(the optional LLM step rephrases the body only).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from stockvision.predict.types import DISCLAIMER_EN, DISCLAIMER_VI, Prediction

SIMULATED_LABEL = {
    "vi": "⚠ DỮ LIỆU MÔ PHỎNG — số liệu dưới đây sinh từ dữ liệu tổng hợp, không phải giá thật.",
    "en": "⚠ SIMULATED DATA — the figures below come from synthetic data, not real prices.",
}
DISCLAIMER = {"vi": DISCLAIMER_VI, "en": DISCLAIMER_EN}
ARROWS = {
    "UP": {"vi": "▲ TĂNG", "en": "▲ UP"},
    "DOWN": {"vi": "▼ GIẢM", "en": "▼ DOWN"},
    "SIDEWAYS": {"vi": "► ĐI NGANG", "en": "► SIDEWAYS"},
}
_ARROW_ONLY = {"UP": "▲", "DOWN": "▼", "SIDEWAYS": "►"}


# ---------------------------------------------------------------------------- numbers
def fmt_number(value: float, lang: str, decimals: int = 1) -> str:
    """Group thousands and place the decimal mark for the language ("1.234,5" / "1,234.5")."""
    if value is None or not math.isfinite(value):
        return "—" if lang == "vi" else "n/a"
    text = f"{value:,.{decimals}f}"
    if lang == "vi":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def fmt_price_k(value_k: float, lang: str) -> str:
    """A price in thousand VND: 1 decimal, 2 decimals under 10 (penny stocks tick in 10 VND)."""
    return fmt_number(value_k, lang, 2 if abs(value_k) < 10 else 1)


def fmt_pct(fraction: float, lang: str, decimals: int = 1, signed: bool = True) -> str:
    """A fraction as a percent: 0.054 -> "+5,4%" (vi) / "+5.4%" (en)."""
    if fraction is None or not math.isfinite(fraction):
        return "—" if lang == "vi" else "n/a"
    sign = "+" if signed and fraction > 0 else ""
    return f"{sign}{fmt_number(fraction * 100, lang, decimals)}%"


def fmt_prob(p: float) -> str:
    return f"{round(p * 100):d}%"


def fmt_date(d: date, lang: str) -> str:
    return d.strftime("%d/%m/%Y") if lang == "vi" else d.isoformat()


def _is_points(p: Any) -> bool:
    """Whether a forecast is quoted in points (an index, ``Prediction.unit``)."""
    return getattr(p, "unit", "VND") == "points"


def _unit(lang: str, p: Any = None) -> str:
    """The display unit: thousand VND, or points for an index (``Prediction.unit``)."""
    if _is_points(p):
        return "điểm" if lang == "vi" else "points"
    return "nghìn đồng" if lang == "vi" else "thousand VND"


def _scale(p: Any) -> float:
    """Divisor from stored values to displayed ones: 1000 for VND prices, 1 for index points."""
    return 1.0 if _is_points(p) else 1000.0


def _units_of(preds: Sequence[Any], lang: str) -> str:
    """The unit line of a list of forecasts: one unit, or both when stocks and indices are mixed
    (an index is never shown as thousand VND)."""
    points = [p for p in preds if _is_points(p)]
    if not points:
        return _unit(lang)
    if len(points) == len(preds):
        return _unit(lang, points[0])
    names = ", ".join(p.symbol for p in points)
    return (
        f"{_unit(lang)}; {names}: {_unit(lang, points[0])}"
        if lang == "vi"
        else f"{_unit(lang)}; {names} in {_unit(lang, points[0])}"
    )


def _history_unit(symbol: str, unit: str | None) -> str:
    """Unit of a stored series: ``unit`` when the caller knows it, else points for an index."""
    if unit is not None:
        return unit
    from stockvision.market.universe import is_index_symbol

    return "points" if is_index_symbol(symbol) else "VND"


class _Quote:
    """A bare ``unit`` holder, so series without a Prediction share ``_unit`` and ``_scale``."""

    def __init__(self, unit: str) -> None:
        self.unit = unit


# ---------------------------------------------------------------------------- composition
def compose(body: str, lang: str, simulated: bool) -> str:
    """Final answer: simulated label (when any input is synthetic), body, one-line disclaimer."""
    parts = []
    if simulated:
        parts.append(SIMULATED_LABEL[lang])
    parts.append(body.strip())
    parts.append(f"ℹ {DISCLAIMER[lang]}")
    return "\n\n".join(p for p in parts if p)


# ---------------------------------------------------------------------------- predictions
def pattern_label(pattern: str, lang: str) -> str:
    return ARROWS.get(pattern.upper(), {"vi": pattern, "en": pattern})[lang]


def data_age(as_of: date, lang: str, today: date | None = None) -> str:
    """How old the data is, in words: "cách đây 5 ngày" / "5 days old"."""
    days = ((today or date.today()) - as_of).days
    if lang == "vi":
        return "hôm nay" if days <= 0 else f"cách đây {days} ngày"
    if days <= 0:
        return "today"
    return "1 day old" if days == 1 else f"{days} days old"


def data_line(p: Prediction, lang: str, today: date | None = None) -> str:
    """The data date and its age, the part of every forecast that says how fresh it is."""
    when = fmt_date(p.data_as_of, lang)
    age = data_age(p.data_as_of, lang, today)
    return f"dữ liệu đến {when}, {age}" if lang == "vi" else f"data as of {when}, {age}"


def _arrow(p: Prediction) -> str:
    """The pattern's arrow only when the measured evidence supports a direction, else a dot."""
    return _ARROW_ONLY.get(p.pattern, "•") if p.direction_supported else "•"


def _probabilities_line(p: Prediction, lang: str) -> str:
    pr, base = p.probabilities, p.base_rates
    if lang == "vi":
        text = (
            f"Xác suất: tăng {fmt_prob(pr.up)} · đi ngang {fmt_prob(pr.sideways)} · "
            f"giảm {fmt_prob(pr.down)}"
        )
        if base is not None:
            text += (
                f" (tỷ lệ cơ sở trong dữ liệu huấn luyện: tăng {fmt_prob(base.up)} · "
                f"đi ngang {fmt_prob(base.sideways)} · giảm {fmt_prob(base.down)})"
            )
        return text + "."
    text = (
        f"Probabilities: up {fmt_prob(pr.up)} · sideways {fmt_prob(pr.sideways)} · "
        f"down {fmt_prob(pr.down)}"
    )
    if base is not None:
        text += (
            f" (base rate in the training data: up {fmt_prob(base.up)} · "
            f"sideways {fmt_prob(base.sideways)} · down {fmt_prob(base.down)})"
        )
    return text + "."


def _direction_line(p: Prediction, lang: str) -> str:
    if p.direction_supported:
        if lang == "vi":
            return (
                f"Xu hướng: {pattern_label(p.pattern, lang)} (xác suất {fmt_prob(p.confidence)})."
            )
        return f"Pattern: {pattern_label(p.pattern, lang)} (probability {fmt_prob(p.confidence)})."
    if lang == "vi":
        return (
            "Xu hướng: chưa đủ bằng chứng để chỉ ra hướng đi — mô hình chưa dự báo được chiều "
            "tăng/giảm tốt hơn mức cơ sở trong kiểm định, nên không hiển thị mũi tên."
        )
    return (
        "Direction: not enough evidence — in testing the model did not forecast up/down better "
        "than the base rate, so no arrow is shown."
    )


#: DM p-value below which the measured skill is called significant in an answer
SIGNIFICANT_P = 0.01


def _model_line(p: Prediction, lang: str) -> str | None:
    """Which model speaks, in plain words, with its measured CRPS skill (numbers from the
    prediction itself, so the grounding checker can trace them)."""
    m = p.serving_model
    if m is None:
        return None
    skill = m.crps_skill
    sig = m.crps_dm_pvalue is not None and m.crps_dm_pvalue < SIGNIFICANT_P
    if lang == "vi":
        line = f"Mô hình: {m.label_vi}."
        if skill is not None:
            line += (
                f" Kiểm định walk-forward: điểm CRPS {'tốt' if skill > 0 else 'kém'} hơn bước "
                f"ngẫu nhiên biên độ cố định {fmt_pct(abs(skill), lang, signed=False)} "
                f"({'có' if sig else 'chưa có'} ý nghĩa thống kê)."
            )
        if m.limits_vi:
            line += f" {m.limits_vi}"
        return line
    line = f"Model: {m.label_en}."
    if skill is not None:
        line += (
            f" Walk-forward test: CRPS {fmt_pct(abs(skill), lang, signed=False)} "
            f"{'better' if skill > 0 else 'worse'} than the constant-width random walk "
            f"({'statistically significant' if sig else 'not statistically significant'})."
        )
    if m.limits_en:
        line += f" {m.limits_en}"
    return line


def _unmeasured(p: Prediction) -> bool:
    """The range's coverage was never measured out of sample (a short history with no holdout):
    the answer then must not claim how often the price lands inside it."""
    m = p.serving_model
    return p.interval.measured_coverage is None and m is not None and m.walk_forward is False


def _measured_vi(p: Prediction) -> str:
    cov = p.interval.measured_coverage
    if cov is None:
        return ""
    if p.interval.measured_on == "holdout":
        return f"; trên các tuần cuối giữ lại để kiểm tra, giá thật rơi vào khoảng này {fmt_prob(cov)} số lần"
    return f"; khi kiểm định, giá thật rơi vào khoảng này {fmt_prob(cov)} số lần"


def _measured_en(p: Prediction) -> str:
    cov = p.interval.measured_coverage
    if cov is None:
        return ""
    if p.interval.measured_on == "holdout":
        return f"; on the last weeks held out the real price landed inside it {fmt_prob(cov)} of the time"
    return f"; out of sample the real price landed inside it {fmt_prob(cov)} of the time"


def format_prediction(
    p: Prediction,
    lang: str,
    show_versions: bool = False,
    name: str | None = None,
    today: date | None = None,
) -> str:
    """One stock: the range first, then the median target, the probabilities next to their base
    rate, an arrow only when the evidence supports a direction, and which model speaks.

    One word per meaning: the interval is the "khoảng dự báo 80%" / "80% range" (how often the
    price should land inside it, with how often it did out of sample); the pattern's numbers are
    "xác suất" / "probability". ``name`` overrides the company name (English answers pass the
    English one).
    """
    unit = _unit(lang, p)
    cov = round(p.interval.coverage * 100)
    scale = _scale(p)  # an index: points
    low_k, high_k = p.interval.low / scale, p.interval.high / scale
    horizon = max(1, round((p.target_date - p.prediction_date).days / 7))
    company = name or p.company_name
    i50 = p.interval_50
    if lang == "vi":
        measured = _measured_vi(p)
        expected = (
            f"khoảng {cov}% hiệu chỉnh trên dữ liệu huấn luyện, độ phủ chưa đo được ngoài mẫu"
            if _unmeasured(p)
            else f"giá được kỳ vọng nằm trong khoảng này {cov}% số lần{measured}"
        )
        half = (
            f"; khoảng 50%: {fmt_price_k(i50.low / scale, lang)} – {fmt_price_k(i50.high / scale, lang)}"
            if i50 is not None
            else ""
        )
        lines = [
            f"{_arrow(p)} {p.symbol} ({p.exchange}) — {company}",
            f"Giá đóng cửa gần nhất: {fmt_price_k(p.last_close_k, lang)} {unit} "
            f"({data_line(p, lang, today)}).",
            f"{horizon} tuần tới (đến khoảng {fmt_date(p.target_date, lang)}), khoảng dự báo "
            f"{cov}%: {fmt_price_k(low_k, lang)} – {fmt_price_k(high_k, lang)} {unit} "
            f"({expected}){half}.",
            *(f"⚠ {c.message_vi}" for c in p.caveats),
            f"Giá mục tiêu {horizon} tuần (trung vị): {fmt_price_k(p.price_target_k, lang)} "
            f"{unit} ({fmt_pct(p.expected_return, lang)}).",
            _probabilities_line(p, lang),
            _direction_line(p, lang),
        ]
        if show_versions:
            lines.append(
                f"Phiên bản mô hình: giá {p.model_versions.price or 'không rõ'}, "
                f"xu hướng {p.model_versions.pattern or 'không rõ'}."
            )
    else:
        measured = _measured_en(p)
        expected = (
            f"a {cov}% range calibrated on the training data; its coverage has not been "
            "measured out of sample"
            if _unmeasured(p)
            else f"the price is expected inside it {cov}% of the time{measured}"
        )
        half = (
            f"; 50% range {fmt_price_k(i50.low / scale, lang)} – {fmt_price_k(i50.high / scale, lang)}"
            if i50 is not None
            else ""
        )
        lines = [
            f"{_arrow(p)} {p.symbol} ({p.exchange}) — {company}",
            f"Last close: {fmt_price_k(p.last_close_k, lang)} {unit} "
            f"({data_line(p, lang, today)}).",
            f"{cov}% range: {fmt_price_k(low_k, lang)} – {fmt_price_k(high_k, lang)} {unit} "
            f"for the next {horizon} weeks (around {fmt_date(p.target_date, lang)}; "
            f"{expected}){half}.",
            *(f"⚠ {c.message_en}" for c in p.caveats),
            f"{horizon}-week price target (median): {fmt_price_k(p.price_target_k, lang)} {unit} "
            f"({fmt_pct(p.expected_return, lang)}).",
            _probabilities_line(p, lang),
            _direction_line(p, lang),
        ]
        if show_versions:
            lines.append(
                f"Model versions: price {p.model_versions.price or 'unknown'}, "
                f"pattern {p.model_versions.pattern or 'unknown'}."
            )
    model = _model_line(p, lang)
    if model:
        lines.append(model)
    return "\n".join(lines)


def format_predictions(
    preds: Sequence[Prediction],
    lang: str,
    show_versions: bool = False,
    names: Mapping[str, str] | None = None,
) -> str:
    names = names or {}
    return "\n\n".join(
        format_prediction(p, lang, show_versions, names.get(p.symbol)) for p in preds
    )


def _fmt_value(value: float | None, lang: str) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    mag = abs(value)
    decimals = 0 if mag >= 100 else 2 if mag >= 1 else 3
    return fmt_number(value, lang, decimals)


def format_explanation(
    p: Prediction, lang: str, max_drivers: int = 5, name: str | None = None
) -> str:
    """The prediction plus its strongest drivers, each with its description and push direction."""
    head = format_prediction(p, lang, name=name)
    drivers = sorted(p.drivers, key=lambda d: abs(d.contribution), reverse=True)[:max_drivers]
    if not drivers:
        tail = (
            "Mô hình hiện tại không cung cấp các yếu tố giải thích cho dự báo này."
            if lang == "vi"
            else "The current model does not provide drivers for this prediction."
        )
        return f"{head}\n\n{tail}"
    if lang == "vi":
        lines = [f"Các yếu tố ảnh hưởng mạnh nhất đến dự báo {p.symbol}:"]
        for d in drivers:
            arrow, verb = (
                ("▲", "đẩy dự báo lên") if d.contribution > 0 else ("▼", "kéo dự báo xuống")
            )
            lines.append(
                f"{arrow} {d.description_vi} ({d.feature} = {_fmt_value(d.value, lang)}): {verb},"
                f" đóng góp {fmt_pct(d.contribution, lang, 2)} vào lợi nhuận dự báo (log)."
            )
        lines.append(
            "Đây là các tương quan thống kê mà mô hình học được, không phải nguyên nhân chắc chắn."
        )
    else:
        lines = [f"Strongest drivers of the {p.symbol} prediction:"]
        for d in drivers:
            arrow, verb = ("▲", "pushes it up") if d.contribution > 0 else ("▼", "pulls it down")
            lines.append(
                f"{arrow} {d.description_en} ({d.feature} = {_fmt_value(d.value, lang)}): {verb},"
                f" contributing {fmt_pct(d.contribution, lang, 2)} to the predicted (log) return."
            )
        lines.append("These are statistical associations learned by the model, not proven causes.")
    return head + "\n\n" + "\n".join(lines)


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for k, row in enumerate(rows):
        out.append(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if k == 0:
            out.append("-+-".join("-" * w for w in widths))
    return "\n".join(out)


def format_comparison(preds: Sequence[Prediction], lang: str) -> str:
    """Side-by-side table of the compared stocks and a one-line reading of it."""
    if lang == "vi":
        header = [
            "Mã",
            "Giá gần nhất",
            "Mục tiêu 4 tuần",
            "Thay đổi",
            "Khoảng dự báo 80%",
            "Xu hướng",
            "Tăng/Ngang/Giảm",
        ]
    else:
        header = ["Symbol", "Last", "4w target", "Change", "80% range", "Pattern", "Up/Side/Down"]
    rows = [header]
    for p in preds:
        pr = p.probabilities
        rows.append(
            [
                p.symbol,
                fmt_price_k(p.last_close_k, lang),
                fmt_price_k(p.price_target_k, lang),
                fmt_pct(p.expected_return, lang),
                f"{fmt_price_k(p.interval.low / _scale(p), lang)}–"
                f"{fmt_price_k(p.interval.high / _scale(p), lang)}",
                # same rule as the one-stock answer: no direction without the evidence for it
                pattern_label(p.pattern, lang)
                if p.direction_supported
                else ("• chưa rõ" if lang == "vi" else "• unclear"),
                f"{fmt_prob(pr.up)}/{fmt_prob(pr.sideways)}/{fmt_prob(pr.down)}",
            ]
        )
    best = max(preds, key=lambda p: p.expected_return)
    likely_up = max(preds, key=lambda p: p.probabilities.up)
    if lang == "vi":
        title = f"So sánh dự báo 4 tuần ({_units_of(preds, lang)}; {data_line(preds[0], lang)}):"
        reading = (
            f"Kỳ vọng cao nhất: {best.symbol} ({fmt_pct(best.expected_return, lang)}); "
            f"xác suất tăng cao nhất: {likely_up.symbol} ({fmt_prob(likely_up.probabilities.up)})."
        )
    else:
        title = (
            f"4-week forecast comparison ({_units_of(preds, lang)}; {data_line(preds[0], lang)}):"
        )
        reading = (
            f"Highest expected return: {best.symbol} ({fmt_pct(best.expected_return, lang)}); "
            f"highest probability of rising: {likely_up.symbol} "
            f"({fmt_prob(likely_up.probabilities.up)})."
        )
    notes = dict.fromkeys(
        (p.serving_model.limits_vi if lang == "vi" else p.serving_model.limits_en)
        for p in preds
        if p.serving_model is not None
    )
    notes.update(
        dict.fromkeys(
            f"⚠ {p.symbol}: {c.message_vi if lang == 'vi' else c.message_en}"
            for p in preds
            for c in p.caveats
        )
    )
    notes.pop(None, None)
    tail = "".join(f"\n{n}" for n in notes)
    return f"{title}\n```\n{_table(rows)}\n```\n{reading}{tail}"


def _supports(p: Prediction, direction: str) -> bool:
    """Whether a forecast points the asked way with evidence behind it: the same rule as the
    arrow (``direction_supported``), so a list of "risers" never holds a 0.0 % forecast whose
    argmax class happens to be UP."""
    if not p.direction_supported:
        return False
    if direction == "down":
        return p.expected_return < 0 or p.pattern == "DOWN"
    return p.expected_return > 0 or p.pattern == "UP"


def format_ranking(
    preds: Sequence[Prediction], lang: str, direction: str | None, group_label: str | None = None
) -> str:
    """Numbered list, in the order given (the ranking service decides the order).

    Only forecasts that point the asked way are listed as risers/fallers; when none (or fewer than
    asked) do, the answer says so instead of listing "fallers" with a ▲ and +0.0%.
    """
    down = direction == "down"
    vi = lang == "vi"
    fitting = [p for p in preds if _supports(p, "down" if down else "up")]
    lines: list[str] = []
    if not fitting and preds and not any(p.direction_supported for p in preds):
        if vi:
            lines.append(
                f"Chưa thể nói mã nào{f' nhóm {group_label}' if group_label else ''} sẽ "
                f"{'giảm' if down else 'tăng'} trong 4 tuần tới: khi kiểm định, mô hình đang phục "
                "vụ chưa dự báo được chiều giá tốt hơn tỷ lệ cơ sở. Danh sách tham khảo:"
            )
        else:
            lines.append(
                f"No{f' {group_label}' if group_label else ''} stock can be said to "
                f"{'fall' if down else 'rise'} over the next 4 weeks: in testing, the served model "
                "has not forecast direction better than the base rates. For reference:"
            )
        shown = list(preds)
    elif not fitting and preds:
        if vi:
            lines.append(
                f"Không mã nào{f' nhóm {group_label}' if group_label else ''} được dự báo "
                f"{'giảm' if down else 'tăng'} trong 4 tuần tới. Các mã có xác suất "
                f"{'giảm' if down else 'tăng'} cao nhất:"
            )
        else:
            lines.append(
                f"No{f' {group_label}' if group_label else ''} stock is forecast to "
                f"{'fall' if down else 'rise'} over the next 4 weeks. Those with the highest "
                f"probability of {'falling' if down else 'rising'}:"
            )
        shown = list(preds)
    else:
        shown = fitting
        n = len(shown)
        if vi:
            what = "giảm mạnh nhất" if down else "tăng mạnh nhất"
            scope = f" nhóm {group_label}" if group_label else ""
            lines.append(f"Top {n} mã{scope} được dự báo {what} trong 4 tuần tới:")
        else:
            what = "fall the most" if down else "rise the most"
            scope = f" {group_label}" if group_label else ""
            lines.append(f"Top {n}{scope} stocks forecast to {what} over the next 4 weeks:")
    for i, p in enumerate(shown, 1):
        prob = p.probabilities.down if down else p.probabilities.up
        word = (
            ("xác suất giảm" if down else "xác suất tăng")
            if vi
            else ("probability down" if down else "probability up")
        )
        lines.append(
            f"{i}. {_arrow(p)} {p.symbol}: {fmt_price_k(p.last_close_k, lang)}"
            f" → {fmt_price_k(p.price_target_k, lang)} ({fmt_pct(p.expected_return, lang)}), "
            f"{word} {fmt_prob(prob)}"
        )
    if fitting and len(fitting) < len(preds):
        lines.append("")
        lines.append(
            f"Chỉ {len(fitting)} mã được dự báo {'giảm' if down else 'tăng'}."
            if vi
            else f"Only {len(fitting)} stocks are forecast to {'fall' if down else 'rise'}."
        )
    same = len({(round(p.expected_return, 4), p.pattern) for p in shown}) == 1
    # (when the service re-ordered a tied list by a factor, _ranking_notes says so instead)
    if len(shown) > 1 and same and shown[0].rank_basis != "momentum_12_1":
        lines.append("")
        lines.append(
            "Mọi mã có cùng dự báo: mô hình đang phục vụ là mô hình cơ sở (giá không đổi, tỉ lệ "
            "nền), vì các mô hình học máy chưa vượt được nó khi kiểm định; thứ tự chỉ là thứ tự mã."
            if vi
            else "Every stock has the same forecast: the served model is a baseline (price "
            "unchanged, base rates) because no learned model beat it in testing; the order is "
            "just the ticker order."
        )
    if preds:
        lines.extend(_ranking_notes(preds, lang))
        lines.append("")  # a blank line so Markdown does not fold it into the last list item
        lines.append(
            f"{data_line(preds[0], lang).capitalize()}; giá theo {_units_of(preds, lang)}."
            if vi
            else f"{data_line(preds[0], lang).capitalize()}; prices in {_units_of(preds, lang)}."
        )
    return "\n".join(lines)


def market_summary(preds: Sequence[Prediction]) -> dict[str, Any]:
    """Counts per pattern and the spread of expected changes (the market answer's numbers)."""
    n = len(preds)
    rets = sorted(p.expected_return for p in preds)
    # a pattern counts only where the evidence supports a direction (the arrow's rule)
    ups = sum(p.direction_supported and p.pattern == "UP" for p in preds)
    downs = sum(p.direction_supported and p.pattern == "DOWN" for p in preds)
    side = sum(p.direction_supported and p.pattern == "SIDEWAYS" for p in preds)
    return {
        "n": n,
        "up": ups,
        "down": downs,
        "sideways": side,
        "unclear": n - ups - downs - side,
        "median_return": rets[n // 2] if n % 2 else (rets[n // 2 - 1] + rets[n // 2]) / 2,
        "min_return": rets[0],
        "max_return": rets[-1],
        "mean_p_up": sum(p.probabilities.up for p in preds) / n,
    }


def format_market(preds: Sequence[Prediction], lang: str, asked_index: str | None = None) -> str:
    """The market as a whole, from the forecasts of every tracked stock (never invented points).

    There is no index series in the store, so VN-Index / VN30 levels in points are not forecast;
    the answer says so and summarises the tracked stocks instead: how many point up, sideways,
    down (only where the evidence supports a direction; the rest are counted as unclear), and the
    median expected change.
    """
    vi = lang == "vi"
    if not preds:
        return (
            "Chưa có dự báo nào để tổng hợp thị trường."
            if vi
            else "There are no forecasts to summarise the market from yet."
        )
    m = market_summary(preds)
    n, ups, downs, side, unclear = m["n"], m["up"], m["down"], m["sideways"], m["unclear"]
    median, p_up = m["median_return"], m["mean_p_up"]
    rets = [m["min_return"], m["max_return"]]
    lines = []
    if asked_index:
        lines.append(
            f"Kho dữ liệu không có chuỗi chỉ số {asked_index}, nên mình không dự báo {asked_index} "
            "theo điểm; dưới đây là tổng hợp dự báo của các mã đang theo dõi."
            if vi
            else f"The store holds no {asked_index} series, so {asked_index} is not forecast in "
            "points; here is the summary of the tracked stocks' forecasts instead."
        )
    if vi:
        lines += [
            f"Toàn bộ {n} mã đang theo dõi, 4 tuần tới ({data_line(preds[0], lang)}):",
            f"• Xu hướng: {ups} mã ▲ TĂNG · {side} mã ► ĐI NGANG · {downs} mã ▼ GIẢM"
            + (f" · {unclear} mã chưa rõ hướng (chưa đủ bằng chứng)." if unclear else "."),
            f"• Thay đổi giá dự báo trung vị: {fmt_pct(median, lang)}; thấp nhất "
            f"{fmt_pct(rets[0], lang)}, cao nhất {fmt_pct(rets[-1], lang)}.",
            f"• Xác suất tăng trung bình: {fmt_prob(p_up)}.",
        ]
    else:
        lines += [
            f"All {n} tracked stocks, next 4 weeks ({data_line(preds[0], lang)}):",
            f"• Pattern: {ups} ▲ UP · {side} ► SIDEWAYS · {downs} ▼ DOWN"
            + (f" · {unclear} with no clear direction (not enough evidence)." if unclear else "."),
            f"• Median forecast change: {fmt_pct(median, lang)}; lowest "
            f"{fmt_pct(rets[0], lang)}, highest {fmt_pct(rets[-1], lang)}.",
            f"• Average probability up: {fmt_prob(p_up)}.",
        ]
    return "\n".join(lines)


def format_track_record(
    symbol: str, items: Sequence[Any], lang: str, unit: str | None = None
) -> str:
    """Earlier stored forecasts of ``symbol`` next to what happened (``PastPrediction`` items).

    Only forecasts whose target date has passed are scored (``resolved``); the others are listed
    as not due. Nothing is re-predicted after the fact: a hindcast by today's model would have seen
    the outcome during training. ``unit`` ("VND" or "points"; default: points for an index) sets
    how the stored values are shown.
    """
    vi = lang == "vi"
    quote = _Quote(_history_unit(symbol, unit))
    if not items:
        return (
            f"Chưa có dự báo nào của {symbol} được lưu từ trước, nên chưa so được với kết quả "
            "thực tế. Dự báo được lưu mỗi lần pipeline chạy; hãy hỏi lại sau khi có dự báo tới hạn."
            if vi
            else f"No earlier forecast of {symbol} is stored, so there is no outcome to compare "
            "yet. Forecasts are stored on every pipeline run; ask again once one is due."
        )
    lines = [
        f"Các dự báo trước của {symbol} và kết quả thực tế ({_unit(lang, quote)}):"
        if vi
        else f"Earlier {symbol} forecasts and what happened ({_unit(lang, quote)}):"
    ]
    for it in list(items)[-4:]:
        made = fmt_date(it.prediction_date, lang)
        target = fmt_price_k(it.price_target / _scale(quote), lang)
        due = fmt_date(it.target_date, lang) if it.target_date else "?"
        pattern = pattern_label(it.pattern, lang)
        if not it.resolved or it.actual_price is None:
            lines.append(
                f"• {made}: mục tiêu {target} ({pattern}) đến {due}, chưa tới hạn."
                if vi
                else f"• {made}: target {target} ({pattern}) by {due}, not due yet."
            )
            continue
        err = it.actual_price / it.price_target - 1
        inside = it.in_interval
        where_vi = (
            "" if inside is None else (" trong khoảng dự báo" if inside else " ngoài khoảng dự báo")
        )
        where_en = (
            "" if inside is None else (" inside the range" if inside else " outside the range")
        )
        actual = pattern_label(it.actual_pattern, lang) if it.actual_pattern else "?"
        lines.append(
            f"• {made}: mục tiêu {target} ({pattern}); thực tế {fmt_price_k(it.actual_price / _scale(quote), lang)}"
            f" ({actual}), lệch {fmt_pct(err, lang)}{where_vi}."
            if vi
            else f"• {made}: target {target} ({pattern}); actual {fmt_price_k(it.actual_price / _scale(quote), lang)}"
            f" ({actual}), off by {fmt_pct(err, lang)}{where_en}."
        )
    return "\n".join(lines)


def _ranking_notes(preds: Sequence[Prediction], lang: str) -> list[str]:
    """What the list is ordered by, and which names are tied (never a silent alphabetical order)."""
    out: list[str] = []
    if preds[0].rank_basis == "momentum_12_1":
        out.append(
            "Lưu ý: mô hình đang phục vụ dự báo cùng một mức lợi nhuận cho mọi mã nên không tự "
            "xếp hạng được; danh sách được xếp theo đà giá 12-1 tháng (yếu tố đơn lẻ tốt nhất "
            "trong kiểm định walk-forward)."
            if lang == "vi"
            else "Note: the served model gives every stock the same expected return, so it does "
            "not rank them; the list is ordered by 12-1 month momentum (the best single factor "
            "in the walk-forward test)."
        )
    groups: dict[Any, list[str]] = {}
    for p in preds:
        key = p.rank_score if p.rank_score is not None else round(p.expected_return, 10)
        groups.setdefault(key, []).append(p.symbol)
    for syms in groups.values():
        if len(syms) > 1:
            out.append(
                f"Đồng hạng (cùng điểm, không phân biệt được): {', '.join(syms)}."
                if lang == "vi"
                else f"Tied (same score, not ranked against each other): {', '.join(syms)}."
            )
    return out


def format_history(
    symbol: str,
    dates: Sequence[date],
    closes: Sequence[float],
    lang: str,
    unit: str | None = None,
) -> str:
    """Text summary of the chart the UI draws: start, end, change, high and low.

    ``unit`` ("VND" or "points"; default: points for an index): VND closes are shown in thousand
    VND, an index in points.
    """
    quote = _Quote(_history_unit(symbol, unit))
    if len(closes) == 0:
        return (
            f"Chưa có dữ liệu giá của {symbol} trong khoảng thời gian này."
            if lang == "vi"
            else f"No price data for {symbol} in this period."
        )
    first, last = closes[0], closes[-1]
    hi = max(range(len(closes)), key=lambda i: closes[i])
    lo = min(range(len(closes)), key=lambda i: closes[i])
    change = last / first - 1 if first else float("nan")
    f = lambda v: fmt_price_k(v / _scale(quote), lang)  # noqa: E731
    if lang == "vi":
        return (
            f"Biểu đồ giá {symbol} từ {fmt_date(dates[0], lang)} đến {fmt_date(dates[-1], lang)}: "
            f"{f(first)} → {f(last)} {_unit(lang, quote)} ({fmt_pct(change, lang)}); "
            f"cao nhất {f(closes[hi])} ({fmt_date(dates[hi], lang)}), "
            f"thấp nhất {f(closes[lo])} ({fmt_date(dates[lo], lang)})."
        )
    return (
        f"{symbol} price chart from {fmt_date(dates[0], lang)} to {fmt_date(dates[-1], lang)}: "
        f"{f(first)} → {f(last)} {_unit(lang, quote)} ({fmt_pct(change, lang)}); "
        f"high {f(closes[hi])} ({fmt_date(dates[hi], lang)}), "
        f"low {f(closes[lo])} ({fmt_date(dates[lo], lang)})."
    )


# ---------------------------------------------------------------------------- model quality
def _as_pct(value: float) -> float:
    """Fractions (|v| <= 1) become percents; larger values are taken as percents already.

    metrics.json stores accuracy/coverage/ECE as fractions and ``*_pct`` fields as percents; a 4-week
    MAE below 1% or an accuracy above 100% is not plausible, so the rule is unambiguous in practice.
    """
    return value * 100 if abs(value) <= 1 else value


def _short_history_quality(metrics: Mapping[str, Any], lang: str) -> str:
    """The quality answer of a short history: walk-forward skipped (why), the holdout figures."""
    wf = metrics["walk_forward"]
    reason = str(wf.get("reason_vi" if lang == "vi" else "reason_en", ""))
    n = lambda v, d=1: fmt_number(v, lang, d)  # noqa: E731
    lines = [(reason[:1].upper() + reason[1:] + ".") if reason else ""]
    lines.append(
        "Chỉ các mốc cơ sở được huấn luyện và phục vụ (có ghi rõ là mốc cơ sở)."
        if lang == "vi"
        else "Only the baselines are trained and served (labelled as baselines)."
    )
    measured = []
    for name, block in (metrics.get("models") or {}).items():
        h = (block or {}).get("holdout") or {}
        bits = []
        if "holdout_coverage_80" in h:
            c = n(h["holdout_coverage_80"] * 100, 0)
            bits.append(
                f"khoảng 80% chứa giá thật {c}% số lần"
                if lang == "vi"
                else f"80% range held the outcome {c}% of the time"
            )
        if "holdout_crps_skill" in h:
            sk = h["holdout_crps_skill"]
            word = (
                ("tốt" if sk > 0 else "kém") if lang == "vi" else ("better" if sk > 0 else "worse")
            )
            bits.append(
                f"CRPS {word} hơn bước ngẫu nhiên biên độ cố định {n(abs(sk) * 100, 1)}%"
                if lang == "vi"
                else f"CRPS {n(abs(sk) * 100, 1)}% {word} than the constant-width random walk"
            )
        if "holdout_log_loss" in h:
            bits.append(f"log loss {n(h['holdout_log_loss'], 3)}")
        if bits:
            measured.append(f"• {name}: " + "; ".join(bits))
    weeks = int(wf.get("holdout_weeks") or 0)
    if measured:
        lines.append(
            f"Đo trên {weeks} tuần cuối giữ lại để kiểm tra (một giai đoạn, con số còn nhiều sai số):"
            if lang == "vi"
            else f"Measured on the last {weeks} weeks held out (one period, so the figures are rough):"
        )
        lines += measured
    else:
        lines.append(
            "Không đủ tuần để giữ lại kiểm tra, nên độ phủ của khoảng dự báo chưa đo được."
            if lang == "vi"
            else "Too few weeks to hold any out, so the coverage of the ranges is not measured."
        )
    return "\n".join(x for x in lines if x)


def format_model_quality(metrics: Mapping[str, Any], lang: str) -> str:
    """Walk-forward metrics per model; only keys present in ``metrics`` are printed. When the
    walk-forward evaluation was skipped (a short history), why, and what the holdout measured."""
    if isinstance(metrics, Mapping) and (metrics.get("walk_forward") or {}).get("skipped"):
        return _short_history_quality(metrics, lang)
    models = metrics.get("models") if isinstance(metrics, Mapping) else None
    if not models:
        return (
            "Chưa có kết quả kiểm định mô hình (cần chạy đánh giá walk-forward trước)."
            if lang == "vi"
            else "No model evaluation is available yet (run the walk-forward evaluation first)."
        )
    n = lambda v, d=1: fmt_number(v, lang, d)  # noqa: E731
    price_lines, pattern_lines = [], []
    for name, by_kind in models.items():
        price = by_kind.get("price") or {}
        pattern = by_kind.get("pattern") or {}
        if price:
            bits = []
            if "mae_pct" in price:
                mae = n(_as_pct(price["mae_pct"]), 2)
                bits.append(
                    f"sai số tuyệt đối trung bình {mae}% giá"
                    if lang == "vi"
                    else f"mean absolute error {mae}% of price"
                )
            if "mae_ratio_vs_random_walk" in price:
                r = price["mae_ratio_vs_random_walk"]
                better = r < 1
                bits.append(
                    f"bằng {n(r, 2)} lần sai số của random walk ({'tốt hơn' if better else 'không tốt hơn'})"
                    if lang == "vi"
                    else f"{n(r, 2)}× the random-walk error ({'better' if better else 'not better'})"
                )
            if "interval_coverage" in price:
                bits.append(
                    f"khoảng dự báo chứa giá thật {n(_as_pct(price['interval_coverage']), 1)}% số lần"
                    if lang == "vi"
                    else f"interval contained the outcome {n(_as_pct(price['interval_coverage']), 1)}% of the time"
                )
            dist = by_kind.get("distribution") or {}
            skill = dist.get("crps_skill")
            if skill is not None and name != "random_walk":
                p_txt = (
                    f", p = {dist['dm_pvalue']:.2g}" if dist.get("dm_pvalue") is not None else ""
                )
                bits.append(
                    f"CRPS tốt hơn bước ngẫu nhiên biên độ cố định {n(skill * 100, 2)}%{p_txt}"
                    if lang == "vi"
                    else f"CRPS {n(skill * 100, 2)}% better than the constant-width random walk"
                    f"{p_txt}"
                )
            if bits:
                price_lines.append(f"• {name}: " + "; ".join(bits))
        if pattern:
            bits = []
            if "accuracy" in pattern:
                bits.append(
                    f"đoán đúng xu hướng {n(_as_pct(pattern['accuracy']), 1)}%"
                    if lang == "vi"
                    else f"pattern accuracy {n(_as_pct(pattern['accuracy']), 1)}%"
                )
            if "log_loss_skill" in pattern:
                bits.append(f"log-loss skill {n(pattern['log_loss_skill'], 3)}")
            if "ece" in pattern:
                bits.append(
                    f"sai lệch hiệu chỉnh xác suất (ECE) {n(pattern['ece'], 3)}"
                    if lang == "vi"
                    else f"calibration error (ECE) {n(pattern['ece'], 3)}"
                )
            if bits:
                pattern_lines.append(f"• {name}: " + "; ".join(bits))
    if lang == "vi":
        out = ["Chất lượng mô hình (kiểm định walk-forward, dữ liệu ngoài mẫu):"]
        if price_lines:
            out += ["Dự báo giá 4 tuần:", *price_lines]
        if pattern_lines:
            out += ["Dự báo xu hướng:", *pattern_lines]
        out.append(
            "Random walk = đoán giá không đổi; log-loss skill > 0 nghĩa là xác suất tốt hơn tỉ lệ"
            " nền. Kết quả quá khứ không bảo đảm hiệu quả tương lai."
        )
    else:
        out = ["Model quality (walk-forward evaluation, out-of-sample):"]
        if price_lines:
            out += ["4-week price:", *price_lines]
        if pattern_lines:
            out += ["Pattern:", *pattern_lines]
        out.append(
            "Random walk = price unchanged; log-loss skill > 0 means better probabilities than the"
            " base rates. Past performance does not guarantee future results."
        )
    return "\n".join(out)


# ---------------------------------------------------------------------------- canned texts
EXAMPLES = {
    "vi": [
        "Dự đoán giá VNM tháng sau?",
        "Top 5 cổ phiếu ngân hàng giảm mạnh nhất",
        "Tại sao FPT được dự báo tăng?",
        "So sánh HPG và HSG",
        "Biểu đồ FPT 1 năm",
        "Mô hình chính xác không?",
    ],
    "en": [
        "Predict VNM next month",
        "Top 5 bank stocks likely to fall",
        "Why is FPT forecast to rise?",
        "Compare HPG and HSG",
        "FPT chart 1 year",
        "How accurate is the model?",
    ],
}


def help_text(lang: str) -> str:
    ex = "\n".join(f"• {e}" for e in EXAMPLES[lang])
    if lang == "vi":
        return (
            "Mình là Stock Vision, trợ lý dự báo cổ phiếu Việt Nam (HoSE/HNX/UPCoM) cho 4 tuần tới: "
            "giá mục tiêu kèm khoảng dao động, xu hướng TĂNG/GIẢM/ĐI NGANG với xác suất, và lý do. "
            f"Bạn có thể hỏi bằng tiếng Việt (có dấu hoặc không dấu) hoặc tiếng Anh, ví dụ:\n{ex}"
        )
    return (
        "I am Stock Vision, a 4-week forecaster for Vietnamese stocks (HoSE/HNX/UPCoM): a price "
        "target with a range, an UP/DOWN/SIDEWAYS pattern with probabilities, and its drivers. "
        f"Ask in English or Vietnamese, for example:\n{ex}"
    )


def greeting_text(lang: str) -> str:
    if lang == "vi":
        return "Xin chào! " + help_text(lang)
    return "Hello! " + help_text(lang)


def thanks_text(lang: str) -> str:
    if lang == "vi":
        return "Rất vui được giúp bạn! Cứ hỏi tiếp về bất kỳ mã cổ phiếu nào nhé."
    return "Glad to help! Ask me about any Vietnamese stock at any time."


def out_of_scope_text(lang: str) -> str:
    if lang == "vi":
        return (
            "Xin lỗi, mình chỉ trả lời về dự báo cổ phiếu Việt Nam. "
            f"Bạn thử hỏi: “{EXAMPLES['vi'][0]}” hoặc “{EXAMPLES['vi'][1]}”."
        )
    return (
        "Sorry, I only answer questions about Vietnamese stock forecasts. "
        f"Try: “{EXAMPLES['en'][0]}” or “{EXAMPLES['en'][1]}”."
    )


SLANG_NOTES = {
    "short_term": {
        "vi": "Lưu ý: mô hình dự báo cho 4 tuần, không dành cho lướt sóng vài phiên.",
        "en": "Note: the model forecasts 4 weeks ahead; it is not built for trading over a few days.",
    },
    "bottom_fishing": {
        "vi": "Lưu ý: “bắt đáy” cần xác định đáy, điều mà không mô hình nào làm chắc chắn được.",
        "en": "Note: bottom fishing needs the bottom to be known, which no model can promise.",
    },
    "buying_top": {
        "vi": "Lưu ý: mô hình không biết giá mua của bạn; hãy tự đặt ngưỡng cắt lỗ phù hợp.",
        "en": "Note: the model does not know your entry price; set your own risk limits.",
    },
    "new_investor": {
        "vi": "Nếu bạn là F0: hãy đa dạng hóa, chỉ dùng tiền nhàn rỗi và đọc kỹ khoảng dao động.",
        "en": "New investor? Diversify, invest only spare money and read the ranges, not just targets.",
    },
    "all_in": {
        "vi": "Lưu ý: dồn toàn bộ vốn vào một mã là rủi ro rất cao bất kể dự báo.",
        "en": "Note: putting all your capital in one stock is very risky whatever the forecast.",
    },
}


def advice_preamble(lang: str) -> str:
    if lang == "vi":
        return (
            "Mình không đưa ra lời khuyên mua hay bán. Dưới đây là số liệu của mô hình để bạn tự "
            "cân nhắc cùng khẩu vị rủi ro của mình:"
        )
    return (
        "I do not give buy or sell advice. Here is what the model says, for you to weigh against "
        "your own risk tolerance:"
    )


def advice_closing(lang: str) -> str:
    return (
        "Đây không phải là khuyến nghị đầu tư; quyết định mua/bán là của bạn."
        if lang == "vi"
        else "This is not investment advice; the decision to buy or sell is yours."
    )
