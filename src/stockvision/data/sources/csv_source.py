"""Import the daily-price CSV exports people actually have (broker, investing.com, vnstock, Excel).

Real exports differ in everything but content, so the reader is tolerant about form and strict
about meaning:

* Columns are recognised by name in any order, case, accents or punctuation (``ticker``,
  ``ticket``, ``Mã``, ``Ngày``, ``Price``, ``Vol.``, ``KL``, ``Adj Close``, ... see
  :data:`COLUMN_ALIASES`); unknown columns (``Change%``, ``name``, an unnamed index) are ignored.
* Dates are parsed per file with the one format that reads the most cells. ``dd/mm/yyyy`` and
  ``mm/dd/yyyy`` are told apart by which reading parses every row *and* keeps each symbol's dates
  monotonic (exports are sorted, oldest- or newest-first); when both do (every day <= 12), the
  day-first reading, Vietnam's convention, wins. A time of day (``4/1/2015 16:00:00``) is dropped.
  ``date_format=`` forces a format.
* Numbers accept thousands separators (``1,234,500``), ``K``/``M``/``B`` suffixes (``61.80K``)
  and missing markers (``-``, empty, ``N/A``): a missing volume becomes NaN, a missing or
  non-numeric price rejects the row. ``.`` is the decimal point.
* The symbol comes from a symbol column, else ``symbol=``, else ``name_map[file stem]``, else the
  file stem without export words and years (``VN 30 Historical Data.csv`` and
  ``vn30_index_daily_2009_2019.csv`` -> ``VN30``, ``VNM.csv`` -> ``VNM``).

Rows that cannot be read are reported as :class:`RowError` with the 1-based line number in the
file (header = line 1; a quoted cell spanning lines would shift the numbers after it) and good rows
still import. Parsing is vectorised per column; only the rejected rows are visited one by one.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from stockvision.data.schema import DATE, SYMBOL
from stockvision.data.sources.base import (
    DataSource,
    DateLike,
    ImportReport,
    Progress,
    RowError,
    SourceResult,
    empty_daily,
    filter_range,
    normalise_daily,
)
from stockvision.errors import SourceError, SourceUnavailableError, UnknownSymbolError

if TYPE_CHECKING:
    from stockvision.engine import Engine, Outcome

log = logging.getLogger(__name__)

#: Accepted header names per contract column, after :func:`normalise_header` (lower case, no
#: accents, letters and digits only), in order of preference.
#: one file read: (cells, rows that could not be split, rows read), or why it cannot be read at all
ReadCells = tuple[pd.DataFrame, list[RowError], int] | SourceError

COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    SYMBOL: ("symbol", "ticker", "ticket", "code", "ma", "mack", "machungkhoan", "stock",
             "tickersymbol", "sym"),
    DATE: ("date", "time", "ngay", "tradingdate", "datetime", "timestamp", "day", "ngaygiaodich",
           "dtyyyymmdd"),
    "open": ("open", "openprice", "giamocua", "giamo", "mocua"),
    "high": ("high", "highprice", "giacaonhat", "caonhat", "giacao", "cao"),
    "low": ("low", "lowprice", "giathapnhat", "thapnhat", "giathap", "thap"),
    "close": ("close", "closeprice", "closingprice", "price", "last", "giadongcua", "dongcua",
              "giadong", "dong"),
    "volume": ("volume", "vol", "kl", "khoiluong", "klkhoplenh", "khoiluongkhoplenh",
               "totalvolume", "tongkl"),
    "adj_close": ("adjclose", "adjustedclose", "closeadj", "adjustedprice", "giadieuchinh"),
}  # fmt: skip
REQUIRED = (DATE, "open", "high", "low", "close")
PRICE_COLUMNS = ("open", "high", "low", "close")

#: Candidate date formats, tried on every file; earlier wins ties (day-first before month-first).
DATE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d",
    "%d/%m/%Y", "%m/%d/%Y", "%d-%m-%Y", "%m-%d-%Y", "%d.%m.%Y",
    "%d/%m/%y", "%m/%d/%y",
    "%b%d,%Y", "%b %d, %Y", "%b %d %Y", "%B %d, %Y", "%d-%b-%Y", "%d %b %Y", "%d-%b-%y",
)  # fmt: skip
# a time of day, optionally with a zone, at the end of a date cell; a string (not compiled) so
# that pandas runs it in Arrow rather than in Python per cell
_TIME_SUFFIX = (
    r"[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[AaPp][Mm])?\s*(?:Z|[+-]\d{2}:?\d{2})?$"
)
_FAMILIES = {  # the shape of a date cell -> the formats worth trying on it
    "ymd": re.compile(r"^\d{4}[-/.]?\d{1,2}[-/.]?\d{1,2}$"),
    "numeric": re.compile(r"^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$"),
    "name": re.compile(r"[A-Za-z]"),
}
_NUMBER = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([KkMmBb]?)$")
#: Rows parsed together across files (bounds the memory of a batch of text cells).
BATCH_ROWS = 400_000
#: file chunks of an import on an engine (a few per worker of a small cluster)
CHUNKS_PER_IMPORT = 16
_SCREEN_SIZE = 64  # distinct dates used to rule out formats before parsing the whole column
_MISSING = {"", "-", "--", "n/a", "na", "nan", "null", "none", "#n/a"}
_SCALE = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9}
_STEM_NOISE = {"historical", "history", "data", "daily", "index", "prices", "price", "quote",
               "quotes", "stock", "ohlc", "ohlcv", "export", "eod", "d1", "1d"}  # fmt: skip


def _clean(values: pd.Series) -> pd.Series:
    """Cell text without padding or leftover quotes (``"932.75"  `` -> ``932.75``)."""
    return values.astype(str).str.strip(' \t"')


def normalise_header(name: str) -> str:
    """``' "Giá đóng cửa" '`` -> ``'giadongcua'``: lower case, no accents, letters/digits only."""
    text = unicodedata.normalize("NFKD", str(name).replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[^0-9a-z]", "", text.lower())


def symbol_from_stem(stem: str) -> str:
    """A ticker from a file name: drop export words and 4-digit years, keep letters/digits."""
    tokens = re.split(r"[^0-9A-Za-z]+", stem)
    kept = [
        t for t in tokens if t and t.lower() not in _STEM_NOISE and not re.fullmatch(r"\d{4}", t)
    ]
    return "".join(kept).upper()


def parse_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse ``61.80K``, ``1,234,500``, ``-`` ... to float; returns (values, unparseable mask)."""
    text = _clean(values)
    missing = text.str.lower().isin(_MISSING).to_numpy()
    clean = text.str.replace(",", "", regex=False)
    out = _fast_float(clean, missing)
    if out is None:
        out = pd.to_numeric(clean, errors="coerce").astype("float64").to_numpy(copy=True)
    slow = np.isnan(out) & ~missing  # suffixed (61.80K) or bad: only these go through the regex
    if slow.any():
        parts = clean[slow].str.extract(_NUMBER)
        scale = parts[1].fillna("").str.lower().map(_SCALE).astype("float64")
        out[slow] = (pd.to_numeric(parts[0], errors="coerce") * scale).to_numpy(dtype="float64")
    out[missing] = np.nan
    bad = np.isnan(out) & ~missing
    return pd.Series(out, index=values.index), pd.Series(bad, index=values.index)


def _fast_float(clean: pd.Series, missing: np.ndarray) -> np.ndarray | None:
    """Arrow's string->float cast (15x faster than pandas); None when any cell is not a plain
    number, so the caller falls back to the lenient path."""
    arr = pa.array(clean.array, type=pa.string())
    arr = pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), arr)
    try:
        return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False).astype("float64")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def parse_dates(
    values: pd.Series,
    groups: pd.Series | None = None,
    date_format: str | None = None,
    hint: str | None = None,
) -> tuple[pd.Series, str | None]:
    """Parse a date column with the single format that fits it best; returns (dates, format).

    Work is done on the distinct values only (a daily file repeats each date per symbol), and
    formats are first screened on a small sample, because a non-matching format is slow to try.
    """
    text = _clean(values)
    codes, uniques = pd.factorize(text)
    cleaned = pd.Series(uniques).str.replace(_TIME_SUFFIX, "", regex=True)
    usable = cleaned[~cleaned.str.lower().isin(_MISSING)]
    formats = [date_format] if date_format else list(DATE_FORMATS)
    if hint and not date_format and _family(hint) != "numeric":
        # the previous file's format, when unambiguous and reading every cell, is the answer
        parsed = pd.to_datetime(cleaned, format=hint, errors="coerce").astype("datetime64[ns]")
        if parsed.notna().sum() == len(usable):
            return pd.Series(parsed.to_numpy()[codes], index=values.index), hint
    if len(formats) > 1 and len(usable):
        sample = usable.iloc[np.linspace(0, len(usable) - 1, min(len(usable), 16)).astype(int)]
        shapes = {fam for value in sample for fam, rx in _FAMILIES.items() if rx.search(value)}
        formats = [f for f in formats if _family(f) in shapes] or formats
    if len(usable) > _SCREEN_SIZE and len(formats) > 1:
        sample = usable.iloc[np.linspace(0, len(usable) - 1, _SCREEN_SIZE).astype(int)]
        hits = {
            f: int(pd.to_datetime(sample, format=f, errors="coerce").notna().sum()) for f in formats
        }
        formats = [f for f in formats if hits[f] and hits[f] == max(hits.values())]
    candidates: list[tuple[int, str, np.ndarray]] = []
    for fmt in formats:
        parsed = pd.to_datetime(cleaned, format=fmt, errors="coerce").astype("datetime64[ns]")
        n_ok = int(parsed.notna().sum())
        if n_ok:
            candidates.append((n_ok, fmt, parsed.to_numpy()))
    if not candidates:
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]"), None
    top = max(n for n, _, _ in candidates)
    tied = [(fmt, parsed) for n, fmt, parsed in candidates if n == top]
    best_fmt, best = tied[0]
    if len(tied) > 1:  # e.g. d/m vs m/d: the reading that keeps each symbol in order wins
        for fmt, parsed in tied:
            if _monotonic(pd.Series(parsed[codes], index=values.index), groups):
                best_fmt, best = fmt, parsed
                break
    return pd.Series(best[codes], index=values.index, dtype="datetime64[ns]"), best_fmt


def _family(fmt: str) -> str:
    if "%b" in fmt or "%B" in fmt:
        return "name"
    return "ymd" if fmt.startswith("%Y") else "numeric"


def _monotonic(dates: pd.Series, groups: pd.Series | None) -> bool:
    """True when every group's dates only rise or only fall (missing dates ignored)."""
    frame = pd.DataFrame({"d": dates, "g": groups if groups is not None else 0}).dropna()
    if frame.empty:
        return True
    step = frame.groupby("g", sort=False)["d"].diff().dropna()
    if step.empty:
        return True
    group_of_step = frame.loc[step.index, "g"]
    rising = (step >= pd.Timedelta(0)).groupby(group_of_step).all()
    falling = (step <= pd.Timedelta(0)).groupby(group_of_step).all()
    return bool((rising | falling).all())


def _sniff_delimiter(line: str) -> str:
    """The most frequent of ``, ; tab |`` in the header line (outside quotes)."""
    unquoted = re.sub(r'"[^"]*"', "", line)
    counts = {d: unquoted.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _decode(raw: bytes) -> str:
    """Text of a CSV export: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1258."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1258", errors="replace")


def _find_columns(headers: Sequence[str]) -> dict[str, str]:
    """Map contract columns to the file's header names using :data:`COLUMN_ALIASES`."""
    normalised = {h: normalise_header(h) for h in headers}
    found: dict[str, str] = {}
    taken: set[str] = set()
    for target, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            match = next((h for h, n in normalised.items() if n == alias and h not in taken), None)
            if match is not None:
                found[target] = match
                taken.add(match)
                break
    return found


def _header_line(lines: list[str], delimiter: str) -> int:
    """Index of the header among the first lines (exports sometimes start with a title line)."""
    for i, line in enumerate(lines[:10]):
        cells = [c.strip().strip('"') for c in line.split(delimiter)]
        found = _find_columns(cells)
        if DATE in found and "close" in found:
            return i
    return 0


class CsvSource(DataSource):
    """Daily bars from CSV files or folders of them (searched recursively for ``*.csv``).

    A file that cannot be read at all (empty, no date/price columns, no symbol) raises
    :class:`SourceError` naming it; with ``on_bad_file="skip"`` it is reported and skipped
    instead, which suits folders holding stray CSVs.
    """

    name = "csv"

    def __init__(
        self,
        paths: Path | str | Iterable[Path | str],
        symbol: str | None = None,
        name_map: dict[str, str] | None = None,
        date_format: str | None = None,
        on_bad_file: Literal["raise", "skip"] = "raise",
        price_unit: Literal["vnd", "thousand"] | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.paths = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
        self.symbol = symbol
        self.name_map = dict(name_map or {})
        self.date_format = date_format
        self.on_bad_file = on_bad_file
        #: "vnd" or "thousand" forces the files' price unit; None guesses it (``data.convert``)
        self.price_unit = price_unit
        self._date_hint: str | None = None  # last file's date format, tried first on the next
        #: reads the files on a distributed engine (``stockvision.engine``); None: in this process
        self.engine = engine

    def __getstate__(self) -> dict[str, object]:
        # sent to the engine's workers: they read files, they never hold the engine itself
        return {**self.__dict__, "engine": None}

    def files(self) -> list[Path]:
        """Every CSV file the configured paths designate, in a stable order."""
        if not self.paths:
            raise SourceUnavailableError(
                "no CSV paths configured: pass paths or set SV_CSV_PATHS to files or folders"
            )
        out: list[Path] = []
        for path in self.paths:
            path = path.expanduser()
            if path.is_dir():
                out += sorted(
                    p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == ".csv"
                )
            elif path.is_file():
                out.append(path)
            else:
                raise SourceUnavailableError(f"CSV path not found: {path}; check SV_CSV_PATHS")
        if not out:
            raise SourceUnavailableError(f"no *.csv files under {', '.join(map(str, self.paths))}")
        return out

    def fetch(
        self,
        symbols: list[str] | None = None,
        start: DateLike | None = None,
        end: DateLike | None = None,
        progress: Progress | None = None,
    ) -> SourceResult:
        """Parse every file; the report covers all rows read, the frame only the request."""
        files = self.files()
        report = ImportReport()
        frames: list[pd.DataFrame] = []
        hints: dict[str, str] = {}
        # files with the same columns are parsed together, in batches (bounded memory)
        batches: dict[tuple[str, ...], list[tuple[pd.DataFrame, list[RowError], int]]] = {}
        batch_rows: dict[tuple[str, ...], int] = {}

        def flush(key: tuple[str, ...]) -> None:
            items = batches.pop(key, [])
            batch_rows.pop(key, None)
            if items:
                frame, batch_report = self._parse_batch(items)
                report.merge(batch_report)
                frames.append(frame)

        for i, (path, read) in enumerate(zip(files, self._reads(files, progress), strict=True)):
            try:
                if isinstance(read, SourceError):
                    raise read
                cells, errs, n_read = read
            except SourceError as exc:
                if self.on_bad_file == "raise":
                    raise
                report.add_file(str(path), 0, 0, [RowError(str(path), 0, f"file skipped: {exc}")])
            else:
                key = tuple(cells.columns)
                batches.setdefault(key, []).append((cells, errs, n_read))
                batch_rows[key] = batch_rows.get(key, 0) + len(cells)
                hint = folder_exchange(path)
                if hint is not None and len(cells):
                    hints.update(
                        dict.fromkeys(
                            pd.unique(cells[SYMBOL].str.strip().str.upper()).tolist(), hint
                        )
                    )
                if batch_rows[key] >= BATCH_ROWS:
                    flush(key)
            if progress is not None and self.engine is None:
                progress(i + 1, len(files), path.name)
        for key in list(batches):
            flush(key)
        result = self._result(frames, report, symbols, start, end)
        kept = set(result.symbols)
        result.exchanges = {s: e for s, e in hints.items() if s in kept}
        return result

    def _reads(self, files: list[Path], progress: Progress | None) -> Iterator[ReadCells]:
        """Every file's cells (or the :class:`SourceError` it raised), in file order.

        Without an engine, each file is read when the loop reaches it (bounded memory). With one,
        the files are read in chunks on the engine's workers (tokenising is the per-file half of an
        import); the parent then batches and parses them in file order exactly as the serial loop
        does, so the date-format hint passes from batch to batch as before and the frame and
        report are identical (tests/data/sources/test_csv_engine.py).
        """
        if self.engine is None:
            for path in files:
                try:
                    yield self._read_cells(path.read_bytes(), path)
                except SourceError as exc:
                    yield exc
            return
        size = max(1, -(-len(files) // CHUNKS_PER_IMPORT))
        chunks = [files[i : i + size] for i in range(0, len(files), size)]
        done = [0]

        def tick(index: int, outcome: Outcome) -> None:
            done[0] += len(chunks[index])
            if progress is not None:
                progress(done[0], len(files), chunks[index][-1].name)

        for outcome in self.engine.map(_read_chunk, chunks, shared=self, on_result=tick):
            yield from outcome.get()

    def parse(self, data: bytes, name: str) -> SourceResult:
        """One CSV held in memory (an upload), parsed exactly as a file would be; nothing on disk."""
        frame, report = self.read_bytes(data, name)
        return self._result([frame], report)

    def _result(
        self,
        frames: list[pd.DataFrame],
        report: ImportReport,
        symbols: list[str] | None = None,
        start: DateLike | None = None,
        end: DateLike | None = None,
    ) -> SourceResult:
        daily = pd.concat(frames, ignore_index=True) if frames else empty_daily()
        daily, dup_errors = _drop_duplicates(daily)
        if dup_errors:
            report.errors.extend(dup_errors)
            report.rows_imported -= len(dup_errors)
            for err in dup_errors:
                report.per_file[err.file] -= 1
        daily = normalise_daily(daily.drop(columns=["_file", "_line"]))
        if symbols is not None:
            wanted = {s.strip().upper() for s in symbols}
            unknown = sorted(wanted - set(daily[SYMBOL].unique()))
            if unknown:
                raise UnknownSymbolError(unknown, source=self.name)
        frame = filter_range(daily, symbols, start, end)
        return SourceResult(frame=frame, report=report, source=self.name, simulated=False)

    def _parse_batch(
        self, items: list[tuple[pd.DataFrame, list[RowError], int]]
    ) -> tuple[pd.DataFrame, ImportReport]:
        """Parse several files at once; a file whose dates the batch's format cannot read (it
        has another format) is parsed again on its own."""
        cells = pd.concat([c for c, _, _ in items], ignore_index=True)
        files = {
            str(c["_file"].iat[0]) if len(c) else f"?{i}": (n, e)
            for i, (c, e, n) in enumerate(items)
        }
        if len(items) == 1:
            return self._parse_cells(cells, files)
        frame, report = self._parse_cells(cells, files)
        odd = {e.file for e in report.errors if "unparseable date" in e.reason}
        if not odd:
            return frame, report
        keep = ~frame["_file"].isin(odd)
        out = [frame[keep]]
        again = ImportReport()
        rest = [it for it in items if len(it[0]) and str(it[0]["_file"].iat[0]) not in odd]
        redo = [it for it in items if len(it[0]) and str(it[0]["_file"].iat[0]) in odd]
        if rest:
            frame2, report2 = self._parse_cells(
                pd.concat([c for c, _, _ in rest], ignore_index=True),
                {str(c["_file"].iat[0]): (n, e) for c, e, n in rest},
            )
            out, again = [frame2], report2
        for c, e, n in redo:
            self._date_hint = None
            f, r = self._parse_cells(c, {str(c["_file"].iat[0]): (n, e)})
            out.append(f)
            again.merge(r)
        return pd.concat(out, ignore_index=True), again

    def read_file(self, path: Path) -> tuple[pd.DataFrame, ImportReport]:
        """Parse one file to contract columns plus ``_file``/``_line``; bad rows go to the report."""
        return self.read_bytes(path.read_bytes(), path)

    def read_bytes(self, data: bytes, path: Path | str) -> tuple[pd.DataFrame, ImportReport]:
        """Parse CSV content held in memory (an upload); ``path`` only names it (symbol, report)."""
        cells, errors, n_read = self._read_cells(data, Path(path))
        return self._parse_cells(cells, {str(path): (n_read, errors)})

    def _read_cells(self, data: bytes, path: Path) -> tuple[pd.DataFrame, list[RowError], int]:
        """One file's cells as text under the contract's column names, plus ``_file``/``_line``.

        Returns the cells, the rows that could not even be split into fields, and the number of
        rows read. Parsing the text is left to :meth:`_parse_cells`, which does it once for many
        files (the per-call overhead of pandas would otherwise dominate a 625-file folder).
        """
        label = str(path)
        text = _decode(data)
        head = text.lstrip("\ufeff").split("\n", 12)[:12]
        if not text.strip():
            raise SourceError(f"{label}: the file is empty")
        lines = [line.rstrip("\r") for line in head]
        delimiter = _sniff_delimiter(lines[0])
        header_idx = _header_line(lines, delimiter)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            raw = pd.read_csv(
                io.StringIO(text),
                sep=delimiter,
                skiprows=header_idx,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                skipinitialspace=True,
                on_bad_lines="warn",
                engine="c",
            )
        raw.columns = [str(c).strip().strip('"').strip() for c in raw.columns]
        errors: list[RowError] = []
        bad_lines: list[int] = []
        for w in caught:
            for m in re.finditer(r"line (\d+): (expected .*? fields, saw \d+)", str(w.message)):
                line = int(m.group(1))  # pandas counts from the top of the file
                bad_lines.append(line)
                errors.append(RowError(label, line, f"malformed row: {m.group(2)}"))
        # file line of each parsed row: header is line header_idx + 1, skipped lines leave holes
        first = header_idx + 2
        all_lines = np.arange(first, first + len(raw) + len(bad_lines))
        line_no = np.setdiff1d(all_lines, np.array(bad_lines, dtype=int))[: len(raw)]

        columns = _find_columns(list(raw.columns))
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            accepted = "; ".join(f"{c}: {', '.join(COLUMN_ALIASES[c])}" for c in missing)
            raise SourceError(
                f"{label}: missing required column(s) {', '.join(missing)}; "
                f"found columns {list(raw.columns)}; accepted names (any case/accents): {accepted}"
            )
        # empty lines (whitespace-only ones are reported); only rows with an empty first cell
        # can be blank, so the full-row test runs on those few
        maybe = np.flatnonzero((raw.iloc[:, 0] == "").to_numpy()) if raw.shape[1] else []
        blank = np.zeros(len(raw), dtype=bool)
        if len(maybe):
            blank[maybe] = (raw.iloc[maybe] == "").all(axis=1).to_numpy()
        cells = raw[list(columns.values())]
        cells.columns = list(columns)
        if blank.any():
            cells = cells.loc[~blank]
        if SYMBOL not in columns:
            cells.insert(0, SYMBOL, self._file_symbol(path))
        cells = cells.assign(_file=label, _line=line_no[~blank])
        return cells, errors, int((~blank).sum()) + len(bad_lines)

    def _parse_cells(
        self, cells: pd.DataFrame, files: dict[str, tuple[int, list[RowError]]]
    ) -> tuple[pd.DataFrame, ImportReport]:
        """Parse the text cells of one or more files (same columns), vectorised over all rows.

        ``files``: label -> (rows read, errors found while reading). Bad rows become
        :class:`RowError` with file:line; the rest are converted and repaired (``data.repair``).
        """
        cells = cells.reset_index(drop=True)
        n = len(cells)
        text = {col: _clean(cells[col]) for col in cells.columns if col not in ("_file", "_line")}
        sym = text[SYMBOL].str.upper()
        out = pd.DataFrame({SYMBOL: sym})
        group = cells["_file"] + "|" + sym
        dates, fmt = parse_dates(text[DATE], group, self.date_format, self._date_hint)
        self._date_hint = fmt or self._date_hint
        log.debug("%d file(s): dates read as %s", len(files), fmt)
        out[DATE] = dates
        problems: dict[str, np.ndarray] = {}
        raw_date = text[DATE]
        problems["missing date"] = raw_date.str.lower().isin(_MISSING).to_numpy()
        problems["unparseable date"] = dates.isna().to_numpy() & ~problems["missing date"]
        problems["missing symbol"] = (sym == "").to_numpy()
        for col in (*PRICE_COLUMNS, "volume", "adj_close"):
            if col not in text:
                if col == "volume":
                    out[col] = np.nan
                continue
            values, bad = parse_numbers(text[col])
            out[col] = values
            if col == "close":  # the one value nothing can replace
                problems[f"non-numeric {col}"] = bad.to_numpy()
                problems[f"missing {col}"] = (values.isna() & ~bad).to_numpy()
            elif bad.any():  # text in open/high/low/volume: missing, repaired and flagged below
                out.loc[bad.to_numpy(), col] = np.nan

        rejected = np.zeros(n, dtype=bool)
        for mask in problems.values():
            rejected |= mask
        file_of = cells["_file"].to_numpy()
        line_of = cells["_line"].to_numpy()
        errors = {label: list(errs) for label, (_, errs) in files.items()}
        for i in np.flatnonzero(rejected):
            reasons = []
            for what, mask in problems.items():
                if mask[i]:
                    col = what.split(" ", 1)[1]
                    value = text[col].iat[i] if col in text else ""
                    reasons.append(f"{what} {value!r}" if value else what)
            errors[str(file_of[i])].append(
                RowError(str(file_of[i]), int(line_of[i]), "; ".join(reasons))
            )

        out["_file"] = file_of
        out["_line"] = line_of
        good = out.loc[~rejected].reset_index(drop=True)
        report = ImportReport()
        stamps = raw_date[~rejected].reset_index(drop=True)
        good = self._convert(good, stamps, report)
        good = repair_into_report(good, report)
        kept = good["_file"].value_counts()
        for label, (n_read, _) in files.items():
            errs = sorted(errors[label], key=lambda e: e.line)
            report.add_file(label, n_read, int(kept.get(label, 0)), errs)
        return good, report

    def _convert(
        self, frame: pd.DataFrame, stamps: pd.Series, report: ImportReport
    ) -> pd.DataFrame:
        """Whole-file conversions before repairs (sub-daily bars, units); see ``data.convert``."""
        from stockvision.data.convert import aggregate_intraday, convert_units

        if not len(frame):
            return frame
        label = str(frame["_file"].iat[0]) if frame["_file"].nunique() == 1 else "(files)"
        if frame.duplicated([SYMBOL, DATE]).any():
            # the date part is parsed already; order bars within a day by their time of day
            clock = stamps.str.extract(r"(\d{1,2}:\d{2}(?::\d{2})?)", expand=False)
            clock = clock.where(clock.str.count(":") == 2, clock + ":00")
            times = frame.assign(_clock=clock.to_numpy()).groupby([SYMBOL, DATE])["_clock"]
            if (times.nunique() > 1).any():  # several times of day: bars, not duplicate rows
                when = frame[DATE] + pd.to_timedelta(clock.fillna("00:00:00"), errors="coerce")
                frame, notes = aggregate_intraday(frame, when, label)
                report.notes.extend(notes)
        frame, notes = convert_units(frame, self.price_unit)
        report.notes.extend(notes)
        return frame

    def _file_symbol(self, path: Path) -> str:
        """The symbol of a file without a symbol column (``symbol=``, ``name_map``, stem)."""
        if self.symbol:
            return self.symbol.strip().upper()
        if path.stem in self.name_map:
            return self.name_map[path.stem].strip().upper()
        sym = symbol_from_stem(path.stem)
        if not sym:
            raise SourceError(
                f"{path}: no symbol column and no ticker in the file name; "
                "add a 'symbol' column, rename the file (e.g. VNM.csv) or pass symbol=..."
            )
        return sym


def _read_chunk(source: CsvSource, paths: list[Path]) -> list[ReadCells]:
    """Engine task: the cells of ``paths`` (a file that cannot be read gives its SourceError)."""
    out: list[ReadCells] = []
    for path in paths:
        try:
            out.append(source._read_cells(path.read_bytes(), path))
        except SourceError as exc:
            out.append(exc)
    return out


def folder_exchange(path: Path) -> str | None:
    """The exchange a folder name on ``path`` states (``.../hnx/SHS.csv`` -> HNX), nearest first."""
    from stockvision.market.exchanges import Exchange

    for parent in path.parents:
        try:
            return Exchange.parse(parent.name).value
        except ValueError:
            continue
    return None


def repair_into_report(frame: pd.DataFrame, report: ImportReport) -> pd.DataFrame:
    """Repair the parsed rows (``data.repair``) and count each repair with file:line and values."""
    from stockvision.data.repair import describe_values, index_rows, repair_bars

    if frame.empty:
        frame["flags"] = pd.Series([], dtype="int64")
        return frame
    result = repair_bars(frame, keep_volume_nan=index_rows(frame[SYMBOL]))
    repairs = result.repairs
    if len(repairs):
        from stockvision.data.sources.base import MAX_EXAMPLES

        head = repairs.groupby("category", sort=False).head(MAX_EXAMPLES)
        pos = head["pos"].to_numpy()
        where = (
            frame["_file"].to_numpy()[pos].astype(str)
            + ":"
            + frame["_line"].to_numpy()[pos].astype(str)
            + ": "
            + frame[SYMBOL].to_numpy()[pos].astype(str)
            + " "
            + pd.DatetimeIndex(frame[DATE].to_numpy()[pos]).strftime("%Y-%m-%d").to_numpy()
            + " "
            + describe_values(head).to_numpy().astype(str)
        )
        examples: dict[str, list[str]] = {}
        for cat, text in zip(head["category"], where, strict=True):
            examples.setdefault(str(cat), []).append(str(text))
        report.add_repair_counts(result.counts(), examples)
    return result.frame


def _drop_duplicates(daily: pd.DataFrame) -> tuple[pd.DataFrame, list[RowError]]:
    """Keep the first row of each (symbol, date) and report the others with the line they repeat."""
    dup = daily.duplicated([SYMBOL, DATE], keep="first").to_numpy()
    if not dup.any():
        return daily, []
    firsts = daily.loc[~dup].set_index([SYMBOL, DATE])[["_file", "_line"]]
    extra = daily.loc[dup]
    origin = firsts.loc[pd.MultiIndex.from_frame(extra[[SYMBOL, DATE]])]
    errors = [
        RowError(file, int(line), f"duplicate {sym} {day:%Y-%m-%d}, kept {f0}:{l0}")
        for file, line, sym, day, f0, l0 in zip(
            extra["_file"], extra["_line"], extra[SYMBOL], extra[DATE],
            origin["_file"], origin["_line"], strict=True,
        )
    ]  # fmt: skip
    return daily.loc[~dup].reset_index(drop=True), errors
