"""Predict from an uploaded daily OHLCV CSV without touching the shared store.

The upload arrives as bytes (never as a path a client names) and is parsed in memory. It goes through
the same steps as ingested data (``CsvSource`` parsing, ``validate_daily``, corporate-action
adjustment, weekly features and labels, ``DatasetBuilder.latest``) and is predicted by the served
champions through :class:`~stockvision.predict.Predictor`, the code path of the API. Nothing is
written anywhere; problems raise ``BadUploadError`` with an English and a Vietnamese message naming
the problem and the fix.

Caveat: the cross-sectional feature ``illiq_rank`` and the market's week ends are computed from
the uploaded symbols alone, as they would be for a store holding only those symbols.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from stockvision.errors import BadUploadError, ModelUnavailableError
from stockvision.features.labels import LabelSpec
from stockvision.predict.model_set import ModelSet
from stockvision.predict.predictor import Predictor
from stockvision.predict.types import Prediction

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_SYMBOLS = 50
BAR_WEEKS = 52
FORMAT_HINT = (
    "Upload a daily export with a header row: date, open, high, low, close, volume (names in "
    "English or Vietnamese, any order; an optional symbol/ticker column)."
)
FORMAT_HINT_VI = (
    "Hãy tải lên file giá ngày có dòng tiêu đề: ngày, giá mở cửa, cao nhất, thấp nhất, đóng cửa, "
    "khối lượng (tên cột tiếng Việt hoặc tiếng Anh, thứ tự bất kỳ; có thể có cột mã)."
)


class UploadResult(NamedTuple):
    """Predictions for every symbol in the file and its weekly bars (for the chart)."""

    predictions: list[Prediction]
    weekly: pd.DataFrame  # symbol, week_end, open, high, low, close, volume (adjusted, VND);
    # ``weekly.attrs["summary"]``: file, rows, symbols, first/last_date, rows_skipped, problems,
    # too_short ({symbol: weeks} not predicted), min_weeks


def _bad(message: str, message_vi: str, hint: str = FORMAT_HINT) -> BadUploadError:
    return BadUploadError(message, hint, message_vi=message_vi)


def _exchange_lookup(symbol: str) -> str:
    from stockvision.market.listings import exchange_of, is_known

    return str(exchange_of(symbol)) if is_known(symbol) else "HOSE"


def safe_name(name: str | None) -> str:
    """A display name for an upload: the base name only, printable, at most 80 characters."""
    base = Path(str(name or "upload.csv").replace("\\", "/")).name
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in "<>`|*[]()#\"'")
    return (cleaned or "upload.csv")[:80]


def read_upload(data: bytes, name: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Parse and validate uploaded CSV bytes: (valid daily frame, import summary). Raises
    ``BadUploadError`` for an unreadable file, wrong columns or no valid rows."""
    from stockvision.data.sources.csv_source import CsvSource
    from stockvision.data.validation import validate_daily
    from stockvision.errors import DataValidationError, SourceError

    name = safe_name(name)
    size = len(data)
    if size == 0:
        raise _bad(f"{name}: the file is empty", f"{name}: file rỗng")
    if size > MAX_UPLOAD_BYTES:
        mb = MAX_UPLOAD_BYTES // (1024 * 1024)
        raise _bad(
            f"{name}: the file is {size / 1e6:.1f} MB; at most {mb} MB is accepted",
            f"{name}: file nặng {size / 1e6:.1f} MB; tối đa {mb} MB",
            "Upload one symbol or a shorter period.",
        )
    try:
        result = CsvSource([], on_bad_file="raise").parse(data, name)
    except SourceError as exc:
        text = str(exc)
        raise _bad(text, f"Không đọc được file: {text}") from exc
    except (UnicodeError, ValueError, pd.errors.ParserError) as exc:
        raise _bad(
            f"{name}: not a readable CSV file ({exc})",
            f"{name}: không phải file CSV hợp lệ ({exc})",
        ) from exc
    report = result.report
    if result.frame.empty:
        problems = "; ".join(str(e) for e in report.errors[:3])
        raise _bad(
            f"{name}: none of the {report.rows_read} rows could be read"
            + (f" (e.g. {problems})" if problems else ""),
            f"{name}: không đọc được dòng nào trong {report.rows_read} dòng"
            + (f" (ví dụ {problems})" if problems else ""),
        )
    try:
        good, vreport = validate_daily(result.frame)
    except DataValidationError as exc:
        raise _bad(f"{name}: {exc}", f"{name}: {exc}") from exc
    if good.empty:
        reasons = ", ".join(f"{k} ({v})" for k, v in list(vreport.reason_counts().items())[:4])
        raise _bad(
            f"{name}: no valid price rows; rejected: {reasons}",
            f"{name}: không có dòng giá hợp lệ; bị loại: {reasons}",
        )
    summary = {
        "file": name,
        "rows": len(good),
        "symbols": int(good["symbol"].nunique()),
        "first_date": good["date"].min().date().isoformat(),
        "last_date": good["date"].max().date().isoformat(),
        "rows_skipped": int(report.rows_rejected + vreport.n_rejected),
        "problems": [str(e) for e in report.errors[:3]],
    }
    return good, summary


def predict_uploaded(
    data: bytes,
    name: str,
    models: ModelSet,
    predictor: Predictor,
    spec: LabelSpec,
    seq_len: int,
    min_weeks: int,
) -> UploadResult:
    """Predictions for the symbols of an uploaded daily CSV with the served champion models."""
    from stockvision.features import DatasetBuilder, build_features_and_labels
    from stockvision.market.calendar import to_weekly
    from stockvision.market.corporate_actions import adjust

    if not models.ready:
        raise ModelUnavailableError("no champion has been promoted yet")
    daily, summary = read_upload(data, name)
    name = summary["file"]
    symbols = sorted(daily["symbol"].unique())
    if len(symbols) > MAX_UPLOAD_SYMBOLS:
        raise _bad(
            f"{name}: {len(symbols)} symbols; at most {MAX_UPLOAD_SYMBOLS} per upload",
            f"{name}: có {len(symbols)} mã; tối đa {MAX_UPLOAD_SYMBOLS} mã mỗi lần tải lên",
            "Split the file by symbol.",
        )
    try:
        adjusted = adjust(daily, exchange_of=_exchange_lookup)
        features, labels = build_features_and_labels(adjusted, spec)
    except ValueError as exc:
        raise _bad(
            f"{name}: the prices could not be turned into weekly features: {exc}",
            f"{name}: không tính được chỉ báo tuần từ dữ liệu: {exc}",
        ) from exc
    need = min_weeks
    weeks = features.groupby(level=0).size().reindex(symbols, fill_value=0)
    short = weeks[weeks < need]
    if len(short) == len(symbols):
        have = ", ".join(f"{s}: {int(n)}" for s, n in short.items())
        raise _bad(
            f"{name}: too little history ({have} weeks); at least {need} weeks are needed",
            f"{name}: lịch sử quá ngắn ({have} tuần); cần ít nhất {need} tuần giao dịch",
            f"Export at least {need} weeks (about {need * 5} trading days) of daily prices.",
        )
    usable = [s for s in symbols if s not in short.index]
    keep = features.index.get_level_values(0).isin(usable)
    builder = DatasetBuilder(
        features.loc[keep],
        labels.loc[keep],
        seq_len=seq_len,
        horizon=spec.horizon,
    )
    window = builder.latest(usable)
    predictions = predictor.predict(window, models, simulated=False)
    weekly = to_weekly(adjusted).reset_index()
    weekly = weekly.loc[weekly["symbol"].isin(usable)]
    weekly = weekly.groupby("symbol", group_keys=False).tail(BAR_WEEKS)
    weekly = weekly[["symbol", "week_end", "open", "high", "low", "close", "volume"]]
    weekly = weekly.reset_index(drop=True)
    summary["too_short"] = {s: int(n) for s, n in short.items()}
    summary["min_weeks"] = need
    weekly.attrs["summary"] = summary
    log.info("upload predicted: %s", summary)
    return UploadResult(predictions, weekly)
