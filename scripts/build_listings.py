"""Derive the package's whole-market listings table from public facts.

Inputs: a ``symbol,exchange,company_name`` file (e.g. ``../shared/data/vn-exchanges/listings.csv``,
or the symbol list vnstock returns online), optionally folders named ``hose/``, ``hnx/``,
``upcom/`` of per-symbol files (their names are facts: the exchange a symbol traded on), and the
curated ``market.listings.LISTINGS`` (sectors, official names). Output (sorted, one row per
symbol): ``symbol, exchange, name, sector, kind`` in ``src/stockvision/market/data/vn_listings.csv``.

Derivation, not a copy: exchanges normalised (HSX -> HOSE), the curated table's official names and
sectors win, other sectors are read from the company name (``Ngân hàng`` -> banking, ...), the
kind (stock / fund / etf / index) comes from the ticker's shape, and the indices are added.

    python scripts/build_listings.py ../shared/data/vn-exchanges/listings.csv \
        --folders ../shared/data/vn-exchanges
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from stockvision.market.exchanges import Exchange  # noqa: E402
from stockvision.market.listings import LISTINGS, normalize_text  # noqa: E402
from stockvision.market.universe import (  # noqa: E402
    INDICES,
    LISTING_COLUMNS,
    LISTINGS_FILE,
    kind_from_symbol,
)

#: Words of a company name that tell its sector (accent-free, lower case), first match wins.
SECTOR_WORDS: list[tuple[str, str]] = [
    ("ngan hang", "banking"),
    ("chung khoan", "securities"),
    ("tai bao hiem", "insurance"),
    ("bao hiem", "insurance"),
    ("bat dong san", "real_estate"),
    ("bds", "real_estate"),
    ("dia oc", "real_estate"),
    ("nha dat", "real_estate"),
    ("khu cong nghiep", "industrial_parks"),
    ("kcn", "industrial_parks"),
    ("thep", "steel"),
    ("dau khi", "oil_gas"),
    ("xang dau", "oil_gas"),
    ("petro", "oil_gas"),
    ("thuy san", "seafood"),
    ("seafood", "seafood"),
    ("duoc", "pharma"),
    ("pharma", "pharma"),
    ("y te", "pharma"),
    ("phan bon", "chemicals"),
    ("hoa chat", "chemicals"),
    ("thuy dien", "utilities"),
    ("nhiet dien", "utilities"),
    ("dien luc", "utilities"),
    ("cap nuoc", "utilities"),
    ("nuoc sach", "utilities"),
    ("moi truong", "utilities"),
    ("hang khong", "aviation"),
    ("cang", "logistics"),
    ("van tai", "logistics"),
    ("logistics", "logistics"),
    ("xay dung", "construction"),
    ("xay lap", "construction"),
    ("cau duong", "construction"),
    ("bia", "food_beverage"),
    ("sua", "food_beverage"),
    ("thuc pham", "food_beverage"),
    ("mia duong", "food_beverage"),
    ("duong", "food_beverage"),
    ("nong nghiep", "agriculture"),
    ("cao su", "agriculture"),
    ("cong nghe", "technology"),
    ("vien thong", "technology"),
    ("phan mem", "technology"),
]


def sector_from_name(name: str) -> str:
    padded = f" {normalize_text(name)} "
    for word, sector in SECTOR_WORDS:
        if f" {word} " in padded:
            return sector
    return ""


def build(source: Path, folders: list[Path]) -> list[dict[str, str]]:
    rows: dict[str, dict[str, str]] = {}
    with source.open(encoding="utf-8-sig") as handle:
        for raw in csv.DictReader(handle):
            sym = (raw.get("symbol") or "").strip().upper()
            if not sym:
                continue
            ex = (raw.get("exchange") or "").strip()
            name = " ".join((raw.get("company_name") or "").split())
            rows[sym] = {
                "symbol": sym,
                "exchange": Exchange.parse(ex).value if ex else "",
                "name": name,
            }
    for base in folders:
        for sub in base.iterdir() if base.is_dir() else []:
            try:
                ex = Exchange.parse(sub.name).value
            except ValueError:
                continue
            for file in sub.glob("*.csv"):
                row = rows.setdefault(file.stem.upper(), {"symbol": file.stem.upper(), "name": ""})
                row["exchange"] = row.get("exchange") or ex
    out = []
    for sym, row in sorted(rows.items()):
        curated = LISTINGS.get(sym)
        name = curated.name if curated is not None else row.get("name", "")
        sector = curated.group if curated is not None else sector_from_name(name)
        kind = kind_from_symbol(sym)
        if kind in ("fund", "etf"):
            sector = "fund"
        out.append(
            {
                "symbol": sym,
                "exchange": row.get("exchange", ""),
                "name": name,
                "sector": sector,
                "kind": kind,
            }
        )
    known = {r["symbol"] for r in out}
    for sym, (ex, name) in INDICES.items():
        if sym not in known:
            out.append({"symbol": sym, "exchange": ex, "name": name, "sector": "", "kind": "index"})
    return sorted(out, key=lambda r: r["symbol"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="symbol,exchange,company_name CSV")
    parser.add_argument("--folders", type=Path, nargs="*", default=[])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "src" / "stockvision" / "market" / "data" / LISTINGS_FILE
    )
    args = parser.parse_args()
    rows = build(args.source, args.folders)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LISTING_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    with_sector = sum(1 for r in rows if r["sector"])
    print(f"wrote {len(rows)} symbols to {args.out}: {kinds}; {with_sector} with a sector")


if __name__ == "__main__":
    main()
