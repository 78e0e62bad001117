"""The VN30 basket used as the default universe.

These are the 30 symbols of the VN30 constituents history shipped with the project's reference
data (2016-2019), all listed on HOSE. The live basket is reviewed twice a year by HOSE; this list
is the basket the historical data covers, not a claim about today's composition.
"""

from __future__ import annotations

VN30_SYMBOLS: tuple[str, ...] = (
    "CII", "CTD", "CTG", "DHG", "DPM", "EIB", "FPT", "GAS", "GMD", "HDB",
    "HPG", "MBB", "MSN", "MWG", "NVL", "PNJ", "REE", "ROS", "SAB", "SBT",
    "SSI", "STB", "TCB", "VCB", "VHM", "VIC", "VJC", "VNM", "VPB", "VRE",
)  # fmt: skip


def is_vn30(symbol: str) -> bool:
    """Whether ``symbol`` (any case) is in :data:`VN30_SYMBOLS`."""
    return symbol.strip().upper() in VN30_SYMBOLS
