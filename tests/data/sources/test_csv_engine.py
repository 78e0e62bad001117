"""CSV imports on the distributed engine read the files on its workers and give the serial import's
frame, report and exchange hints exactly: mixed date formats (the hint that passes from batch to
batch), several column layouts, bad rows, a stray file, exchange folders, several batches."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stockvision.data.sources import csv_source
from stockvision.data.sources.csv_source import CsvSource
from stockvision.engine import DaskEngine, SerialEngine
from stockvision.errors import SourceError

pytest.importorskip("distributed", reason="dask.distributed not installed (extra 'distributed')")

REPO = Path(__file__).resolve().parents[3]
SHARED = Path(os.environ.get("SV_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="module")
def dask_engine():
    engine = DaskEngine(n_workers=2)
    yield engine
    engine.close()


def _write(path: Path, days: pd.DatetimeIndex, fmt: str, seed: int, header: str) -> None:
    rng = np.random.default_rng(seed)
    close = 10_000 * np.exp(np.cumsum(rng.normal(0, 0.02, len(days))))
    rows = [header]
    for i, (d, c) in enumerate(zip(days, close, strict=True)):
        vol = "-" if i == 7 else f"{int(rng.integers(1_000, 90_000)):,}"
        price = "n/a" if i == 11 else f"{c:.0f}"  # a bad close: rejected and reported
        rows.append(f'{d.strftime(fmt)},{c * 1.01:.0f},{c * 0.99:.0f},{c:.0f},{price},"{vol}"')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("csvs")
    days = pd.bdate_range("2019-01-01", periods=160)
    formats = ["%d/%m/%Y", "%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y", "%b %d, %Y", "%Y-%m-%d"]
    headers = ["Date,High,Low,Open,Close,Volume", "Ngày,Cao,Thấp,Mở cửa,Đóng cửa,KL"]
    for i in range(24):
        sub = ("hose", "hnx", "")[i % 3]
        sym = f"S{i:02d}"
        # the first 12 business days only (every day <= 12): d/m or m/d, the hint decides
        span = days[:12] if i % 7 == 3 else days
        _write(root / sub / f"{sym}.csv", span, formats[i % 6], i, headers[i % 2])
    (root / "notes.csv").write_text("symbol,exchange\nS00,HOSE\n", encoding="utf-8")
    return root


def _fetch(path, engine, **kw) -> tuple:
    result = CsvSource(path, on_bad_file="skip", engine=engine, **kw).fetch()
    return result.frame, dataclasses.asdict(result.report), result.exchanges


def _same(a: tuple, b: tuple) -> None:
    pd.testing.assert_frame_equal(a[0], b[0], check_exact=True)
    assert a[1] == b[1]  # rows read / imported, per file, every error with its line, repairs, notes
    assert a[2] == b[2]


@pytest.mark.parametrize("batch_rows", [400_000, 500])  # one batch per layout; many batches
def test_dask_import_equals_serial(folder, dask_engine, monkeypatch, batch_rows):
    monkeypatch.setattr(csv_source, "BATCH_ROWS", batch_rows)
    serial = _fetch(folder, None)
    assert serial[1]["errors"] and serial[2]  # the data exercises errors and exchange folders
    _same(_fetch(folder, dask_engine), serial)
    _same(_fetch(folder, SerialEngine()), serial)
    assert dask_engine.describe()["workers"] == 2


def test_a_bad_file_raises_the_same_error(folder, dask_engine):
    with pytest.raises(SourceError) as serial:
        CsvSource(folder).fetch()
    with pytest.raises(SourceError) as dist:
        CsvSource(folder, engine=dask_engine).fetch()
    assert str(dist.value) == str(serial.value)


def test_progress_reaches_every_file(folder, dask_engine):
    seen: list[tuple[float, float | None]] = []
    CsvSource(folder, on_bad_file="skip", engine=dask_engine).fetch(
        progress=lambda done, total, label: seen.append((done, total))
    )
    assert seen[-1] == (25, 25) and len(seen) > 1


@pytest.mark.skipif(not (SHARED / "vn-exchanges").exists(), reason="real exchange data not found")
def test_real_exchange_files_on_dask_equal_serial(dask_engine):
    files = sorted((SHARED / "vn-exchanges" / "hnx").glob("*.csv"))[:30]
    files += sorted((SHARED / "vn-exchanges" / "hose").glob("*.csv"))[:30]
    _same(_fetch(files, dask_engine), _fetch(files, None))
