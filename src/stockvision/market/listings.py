"""Static snapshot of well-known Vietnamese listed companies: exchange, names and sector group.

This is a hand-curated snapshot (about 150 tickers: the VN30 basket plus large and well-known
names on HOSE, HNX and UPCoM), not a live registry. Exchanges change (transfers between exchanges,
delistings), so a live source should refresh it; entries whose status is known to have changed
carry a ``note``. It serves the chatbot (find a symbol from a company name or a sector) and the API
(404 answers with the closest known symbols).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from stockvision.errors import UnknownSymbolError
from stockvision.market.exchanges import Exchange

#: Sector groups: English key -> Vietnamese label.
GROUPS: dict[str, str] = {
    "banking": "ngân hàng",
    "securities": "chứng khoán",
    "real_estate": "bất động sản",
    "steel": "thép",
    "oil_gas": "dầu khí",
    "retail": "bán lẻ",
    "technology": "công nghệ",
    "food_beverage": "thực phẩm - đồ uống",
    "agriculture": "nông nghiệp",
    "utilities": "điện - nước",
    "industrial_parks": "khu công nghiệp",
    "aviation": "hàng không",
    "insurance": "bảo hiểm",
    "chemicals": "hóa chất - phân bón",
    "construction": "xây dựng",
    "seafood": "thủy sản",
    "pharma": "dược phẩm",
    "logistics": "cảng biển - logistics",
    "industrial": "công nghiệp",
}


@dataclass(frozen=True)
class Listing:
    """One listed company."""

    symbol: str
    exchange: Exchange
    name: str  # official Vietnamese name, with diacritics
    english_name: str
    group: str  # key of GROUPS
    aliases: tuple[str, ...] = field(default=())  # short / common names
    note: str = ""

    @property
    def group_vi(self) -> str:
        """Vietnamese label of the sector group."""
        return GROUPS[self.group]


H, N, U = Exchange.HOSE, Exchange.HNX, Exchange.UPCOM

# symbol, exchange, group, official name, English name, aliases
_TABLE: list[tuple[str, Exchange, str, str, str, tuple[str, ...]]] = [
    # --- banking
    ("VCB", H, "banking", "Ngân hàng TMCP Ngoại thương Việt Nam", "Joint Stock Commercial Bank for Foreign Trade of Vietnam", ("Vietcombank",)),
    ("BID", H, "banking", "Ngân hàng TMCP Đầu tư và Phát triển Việt Nam", "Joint Stock Commercial Bank for Investment and Development of Vietnam", ("BIDV",)),
    ("CTG", H, "banking", "Ngân hàng TMCP Công Thương Việt Nam", "Vietnam Joint Stock Commercial Bank for Industry and Trade", ("VietinBank",)),
    ("TCB", H, "banking", "Ngân hàng TMCP Kỹ Thương Việt Nam", "Vietnam Technological and Commercial Joint Stock Bank", ("Techcombank",)),
    ("MBB", H, "banking", "Ngân hàng TMCP Quân đội", "Military Commercial Joint Stock Bank", ("MB Bank", "MB", "Ngân hàng Quân đội")),
    ("VPB", H, "banking", "Ngân hàng TMCP Việt Nam Thịnh Vượng", "Vietnam Prosperity Joint Stock Commercial Bank", ("VPBank",)),
    ("ACB", H, "banking", "Ngân hàng TMCP Á Châu", "Asia Commercial Joint Stock Bank", ("Á Châu",)),
    ("HDB", H, "banking", "Ngân hàng TMCP Phát triển Thành phố Hồ Chí Minh", "Ho Chi Minh City Development Joint Stock Commercial Bank", ("HDBank",)),
    ("STB", H, "banking", "Ngân hàng TMCP Sài Gòn Thương Tín", "Saigon Thuong Tin Commercial Joint Stock Bank", ("Sacombank",)),
    ("SHB", H, "banking", "Ngân hàng TMCP Sài Gòn - Hà Nội", "Saigon - Hanoi Commercial Joint Stock Bank", ()),
    ("TPB", H, "banking", "Ngân hàng TMCP Tiên Phong", "Tien Phong Commercial Joint Stock Bank", ("TPBank",)),
    ("VIB", H, "banking", "Ngân hàng TMCP Quốc tế Việt Nam", "Vietnam International Commercial Joint Stock Bank", ()),
    ("SSB", H, "banking", "Ngân hàng TMCP Đông Nam Á", "Southeast Asia Commercial Joint Stock Bank", ("SeABank",)),
    ("MSB", H, "banking", "Ngân hàng TMCP Hàng Hải Việt Nam", "Vietnam Maritime Commercial Joint Stock Bank", ("Maritime Bank",)),
    ("LPB", H, "banking", "Ngân hàng TMCP Lộc Phát Việt Nam", "Loc Phat Vietnam Joint Stock Commercial Bank", ("LPBank", "LienVietPostBank")),
    ("OCB", H, "banking", "Ngân hàng TMCP Phương Đông", "Orient Commercial Joint Stock Bank", ()),
    ("EIB", H, "banking", "Ngân hàng TMCP Xuất Nhập khẩu Việt Nam", "Vietnam Export Import Commercial Joint Stock Bank", ("Eximbank",)),
    ("BAB", N, "banking", "Ngân hàng TMCP Bắc Á", "Bac A Commercial Joint Stock Bank", ("Bac A Bank",)),
    ("NVB", N, "banking", "Ngân hàng TMCP Quốc Dân", "National Citizen Commercial Joint Stock Bank", ("NCB",)),
    ("ABB", U, "banking", "Ngân hàng TMCP An Bình", "An Binh Commercial Joint Stock Bank", ("ABBank",)),
    ("BVB", U, "banking", "Ngân hàng TMCP Bản Việt", "Viet Capital Commercial Joint Stock Bank", ("BVBank", "Viet Capital Bank")),
    ("SGB", U, "banking", "Ngân hàng TMCP Sài Gòn Công Thương", "Saigon Bank for Industry and Trade", ("Saigonbank",)),
    # --- securities
    ("SSI", H, "securities", "Công ty Cổ phần Chứng khoán SSI", "SSI Securities Corporation", ("Chứng khoán SSI",)),
    ("VCI", H, "securities", "Công ty Cổ phần Chứng khoán Vietcap", "Vietcap Securities Joint Stock Company", ("Vietcap", "Chứng khoán Bản Việt")),
    ("HCM", H, "securities", "Công ty Cổ phần Chứng khoán Thành phố Hồ Chí Minh", "Ho Chi Minh City Securities Corporation", ("HSC",)),
    ("VND", H, "securities", "Công ty Cổ phần Chứng khoán VNDIRECT", "VNDIRECT Securities Corporation", ("VNDirect",)),
    ("VIX", H, "securities", "Công ty Cổ phần Chứng khoán VIX", "VIX Securities Joint Stock Company", ()),
    ("FTS", H, "securities", "Công ty Cổ phần Chứng khoán FPT", "FPT Securities Joint Stock Company", ("FPTS",)),
    ("CTS", H, "securities", "Công ty Cổ phần Chứng khoán Ngân hàng Công thương Việt Nam", "VietinBank Securities Joint Stock Company", ("VietinBank Securities",)),
    ("BSI", H, "securities", "Công ty Cổ phần Chứng khoán BIDV", "BIDV Securities Joint Stock Company", ("BSC",)),
    ("AGR", H, "securities", "Công ty Cổ phần Chứng khoán Agribank", "Agribank Securities Joint Stock Company", ("Agriseco",)),
    ("SHS", N, "securities", "Công ty Cổ phần Chứng khoán Sài Gòn - Hà Nội", "Saigon - Hanoi Securities Joint Stock Company", ()),
    ("MBS", N, "securities", "Công ty Cổ phần Chứng khoán MB", "MB Securities Joint Stock Company", ()),
    ("BVS", N, "securities", "Công ty Cổ phần Chứng khoán Bảo Việt", "Bao Viet Securities Joint Stock Company", ()),
    # --- real estate
    ("VIC", H, "real_estate", "Tập đoàn Vingroup - Công ty CP", "Vingroup Joint Stock Company", ("Vingroup",)),
    ("VHM", H, "real_estate", "Công ty Cổ phần Vinhomes", "Vinhomes Joint Stock Company", ("Vinhomes",)),
    ("VRE", H, "real_estate", "Công ty Cổ phần Vincom Retail", "Vincom Retail Joint Stock Company", ("Vincom Retail", "Vincom")),
    ("NVL", H, "real_estate", "Công ty Cổ phần Tập đoàn Đầu tư Địa ốc No Va", "No Va Land Investment Group Corporation", ("Novaland",)),
    ("PDR", H, "real_estate", "Công ty Cổ phần Phát triển Bất động sản Phát Đạt", "Phat Dat Real Estate Development Corporation", ("Phát Đạt",)),
    ("DXG", H, "real_estate", "Công ty Cổ phần Tập đoàn Đất Xanh", "Dat Xanh Group Joint Stock Company", ("Đất Xanh",)),
    ("KDH", H, "real_estate", "Công ty Cổ phần Đầu tư và Kinh doanh Nhà Khang Điền", "Khang Dien House Trading and Investment Joint Stock Company", ("Khang Điền",)),
    ("NLG", H, "real_estate", "Công ty Cổ phần Đầu tư Nam Long", "Nam Long Investment Corporation", ("Nam Long",)),
    ("DIG", H, "real_estate", "Tổng Công ty Cổ phần Đầu tư Phát triển Xây dựng", "Development Investment Construction Corporation", ("DIC Corp",)),
    ("CEO", N, "real_estate", "Công ty Cổ phần Tập đoàn C.E.O", "C.E.O Group Joint Stock Company", ("CEO Group",)),
    ("DXS", H, "real_estate", "Công ty Cổ phần Dịch vụ Bất động sản Đất Xanh", "Dat Xanh Real Estate Services Joint Stock Company", ("Đất Xanh Services",)),
    ("HDG", H, "real_estate", "Công ty Cổ phần Tập đoàn Hà Đô", "Ha Do Group Joint Stock Company", ("Hà Đô",)),
    ("NTL", H, "real_estate", "Công ty Cổ phần Phát triển Đô thị Từ Liêm", "Tu Liem Urban Development Joint Stock Company", ("Lideco",)),
    ("SCR", H, "real_estate", "Công ty Cổ phần Địa ốc Sài Gòn Thương Tín", "Saigon Thuong Tin Real Estate Joint Stock Company", ("TTC Land",)),
    ("TCH", H, "real_estate", "Công ty Cổ phần Đầu tư Dịch vụ Tài chính Hoàng Huy", "Hoang Huy Investment Financial Services Joint Stock Company", ("Hoàng Huy",)),
    ("HDC", H, "real_estate", "Công ty Cổ phần Phát triển Nhà Bà Rịa - Vũng Tàu", "Ba Ria - Vung Tau House Development Joint Stock Company", ("Hodeco",)),
    ("AGG", H, "real_estate", "Công ty Cổ phần Đầu tư và Phát triển Bất động sản An Gia", "An Gia Real Estate Investment and Development Corporation", ("An Gia",)),
    # --- steel
    ("HPG", H, "steel", "Công ty Cổ phần Tập đoàn Hòa Phát", "Hoa Phat Group Joint Stock Company", ("Tập đoàn Hòa Phát", "Hòa Phát", "Hoa Phat")),
    ("HSG", H, "steel", "Công ty Cổ phần Tập đoàn Hoa Sen", "Hoa Sen Group", ("Hoa Sen", "Tôn Hoa Sen")),
    ("NKG", H, "steel", "Công ty Cổ phần Thép Nam Kim", "Nam Kim Steel Joint Stock Company", ("Thép Nam Kim",)),
    ("TLH", H, "steel", "Công ty Cổ phần Tập đoàn Thép Tiến Lên", "Tien Len Steel Corporation", ("Thép Tiến Lên",)),
    ("SMC", H, "steel", "Công ty Cổ phần Đầu tư Thương mại SMC", "SMC Trading Investment Joint Stock Company", ()),
    ("TVN", U, "steel", "Tổng Công ty Thép Việt Nam - CTCP", "Vietnam Steel Corporation", ("VNSteel",)),
    # --- oil & gas
    ("GAS", H, "oil_gas", "Tổng Công ty Khí Việt Nam - CTCP", "PetroVietnam Gas Joint Stock Corporation", ("PV GAS",)),
    ("PLX", H, "oil_gas", "Tập đoàn Xăng dầu Việt Nam", "Vietnam National Petroleum Group", ("Petrolimex",)),
    ("PVD", H, "oil_gas", "Tổng Công ty Cổ phần Khoan và Dịch vụ Khoan Dầu khí", "PetroVietnam Drilling and Well Services Corporation", ("PV Drilling",)),
    ("PVS", N, "oil_gas", "Tổng Công ty Cổ phần Dịch vụ Kỹ thuật Dầu khí Việt Nam", "PetroVietnam Technical Services Corporation", ("PTSC",)),
    ("OIL", U, "oil_gas", "Tổng Công ty Dầu Việt Nam - CTCP", "PetroVietnam Oil Corporation", ("PV OIL",)),
    ("PVT", H, "oil_gas", "Tổng Công ty Cổ phần Vận tải Dầu khí", "PetroVietnam Transportation Corporation", ("PV Trans",)),
    # --- retail
    ("MWG", H, "retail", "Công ty Cổ phần Đầu tư Thế Giới Di Động", "Mobile World Investment Corporation", ("Thế Giới Di Động", "Điện Máy Xanh", "Mobile World")),
    ("PNJ", H, "retail", "Công ty Cổ phần Vàng bạc Đá quý Phú Nhuận", "Phu Nhuan Jewelry Joint Stock Company", ("Vàng bạc Phú Nhuận",)),
    ("FRT", H, "retail", "Công ty Cổ phần Bán lẻ Kỹ thuật số FPT", "FPT Digital Retail Joint Stock Company", ("FPT Retail", "FPT Shop", "Long Châu")),
    ("DGW", H, "retail", "Công ty Cổ phần Thế Giới Số", "Digiworld Corporation", ("Digiworld",)),
    ("PET", H, "retail", "Tổng Công ty Cổ phần Dịch vụ Tổng hợp Dầu khí", "PetroVietnam General Services Corporation", ("Petrosetco",)),
    # --- technology
    ("FPT", H, "technology", "Công ty Cổ phần FPT", "FPT Corporation", ("Tập đoàn FPT",)),
    ("CMG", H, "technology", "Công ty Cổ phần Tập đoàn Công nghệ CMC", "CMC Corporation", ("CMC",)),
    ("ELC", H, "technology", "Công ty Cổ phần Đầu tư Phát triển Công nghệ Điện tử Viễn thông", "Elcom Corporation", ("Elcom",)),
    ("VGI", U, "technology", "Tổng Công ty Cổ phần Đầu tư Quốc tế Viettel", "Viettel Global Investment Joint Stock Company", ("Viettel Global",)),
    ("FOX", U, "technology", "Công ty Cổ phần Viễn thông FPT", "FPT Telecom Joint Stock Company", ("FPT Telecom",)),
    # --- food & beverage
    ("VNM", H, "food_beverage", "Công ty Cổ phần Sữa Việt Nam", "Vietnam Dairy Products Joint Stock Company", ("Vinamilk",)),
    ("MSN", H, "food_beverage", "Công ty Cổ phần Tập đoàn Masan", "Masan Group Corporation", ("Masan",)),
    ("SAB", H, "food_beverage", "Tổng Công ty Cổ phần Bia - Rượu - Nước giải khát Sài Gòn", "Saigon Beer - Alcohol - Beverage Corporation", ("Sabeco", "Bia Sài Gòn")),
    ("BHN", H, "food_beverage", "Tổng Công ty Cổ phần Bia - Rượu - Nước giải khát Hà Nội", "Hanoi Beer - Alcohol - Beverage Corporation", ("Habeco", "Bia Hà Nội")),
    ("SBT", H, "food_beverage", "Công ty Cổ phần Thành Thành Công - Biên Hòa", "Thanh Thanh Cong - Bien Hoa Joint Stock Company", ("TTC AgriS", "Đường Biên Hòa")),
    ("QNS", U, "food_beverage", "Công ty Cổ phần Đường Quảng Ngãi", "Quang Ngai Sugar Joint Stock Company", ("Đường Quảng Ngãi",)),
    ("KDC", H, "food_beverage", "Công ty Cổ phần Tập đoàn KIDO", "KIDO Group Corporation", ("Kido",)),
    ("MML", U, "food_beverage", "Công ty Cổ phần Masan MEATLife", "Masan MEATLife Corporation", ("Masan MEATLife",)),
    ("PAN", H, "food_beverage", "Công ty Cổ phần Tập đoàn PAN", "The PAN Group Joint Stock Company", ("PAN Group",)),
    # --- agriculture
    ("HAG", H, "agriculture", "Công ty Cổ phần Hoàng Anh Gia Lai", "Hoang Anh Gia Lai Joint Stock Company", ("Hoàng Anh Gia Lai", "HAGL")),
    ("BAF", H, "agriculture", "Công ty Cổ phần Nông nghiệp BaF Việt Nam", "BaF Vietnam Agriculture Joint Stock Company", ("BaF",)),
    # --- utilities
    ("POW", H, "utilities", "Tổng Công ty Điện lực Dầu khí Việt Nam - CTCP", "PetroVietnam Power Corporation", ("PV Power",)),
    ("NT2", H, "utilities", "Công ty Cổ phần Điện lực Dầu khí Nhơn Trạch 2", "PetroVietnam Power Nhon Trach 2 Joint Stock Company", ("Nhơn Trạch 2",)),
    ("REE", H, "utilities", "Công ty Cổ phần Cơ Điện Lạnh", "Refrigeration Electrical Engineering Corporation", ("REE Corp", "Cơ Điện Lạnh")),
    ("GEG", H, "utilities", "Công ty Cổ phần Điện Gia Lai", "Gia Lai Electricity Joint Stock Company", ("Điện Gia Lai",)),
    ("PPC", H, "utilities", "Công ty Cổ phần Nhiệt điện Phả Lại", "Pha Lai Thermal Power Joint Stock Company", ("Nhiệt điện Phả Lại",)),
    ("BWE", H, "utilities", "Tổng Công ty Nước - Môi trường Bình Dương - CTCP", "Binh Duong Water - Environment Corporation", ("Biwase",)),
    ("VSH", H, "utilities", "Công ty Cổ phần Thủy điện Vĩnh Sơn - Sông Hinh", "Vinh Son - Song Hinh Hydropower Joint Stock Company", ()),
    ("QTP", U, "utilities", "Công ty Cổ phần Nhiệt điện Quảng Ninh", "Quang Ninh Thermal Power Joint Stock Company", ("Nhiệt điện Quảng Ninh",)),
    # --- industrial parks
    ("KBC", H, "industrial_parks", "Tổng Công ty Phát triển Đô thị Kinh Bắc - CTCP", "Kinh Bac City Development Holding Corporation", ("Kinh Bắc",)),
    ("IDC", N, "industrial_parks", "Tổng Công ty IDICO - CTCP", "IDICO Corporation", ("IDICO",)),
    ("BCM", H, "industrial_parks", "Tổng Công ty Đầu tư và Phát triển Công nghiệp - CTCP", "Becamex IDC Corporation", ("Becamex",)),
    ("GVR", H, "industrial_parks", "Tập đoàn Công nghiệp Cao su Việt Nam - CTCP", "Vietnam Rubber Group", ("Cao su Việt Nam", "VRG")),
    ("SZC", H, "industrial_parks", "Công ty Cổ phần Sonadezi Châu Đức", "Sonadezi Chau Duc Joint Stock Company", ("Sonadezi Châu Đức",)),
    ("PHR", H, "industrial_parks", "Công ty Cổ phần Cao su Phước Hòa", "Phuoc Hoa Rubber Joint Stock Company", ("Cao su Phước Hòa",)),
    ("VGC", H, "industrial_parks", "Tổng Công ty Viglacera - CTCP", "Viglacera Corporation", ("Viglacera",)),
    ("NTC", U, "industrial_parks", "Công ty Cổ phần Khu Công nghiệp Nam Tân Uyên", "Nam Tan Uyen Industrial Park Joint Stock Company", ("Nam Tân Uyên",)),
    ("LHG", H, "industrial_parks", "Công ty Cổ phần Long Hậu", "Long Hau Corporation", ("Long Hậu",)),
    # --- aviation
    ("VJC", H, "aviation", "Công ty Cổ phần Hàng không VietJet", "Vietjet Aviation Joint Stock Company", ("Vietjet", "Vietjet Air")),
    ("HVN", H, "aviation", "Tổng Công ty Hàng không Việt Nam - CTCP", "Vietnam Airlines JSC", ("Vietnam Airlines",)),
    ("ACV", U, "aviation", "Tổng Công ty Cảng hàng không Việt Nam - CTCP", "Airports Corporation of Vietnam", ("Cảng hàng không Việt Nam",)),
    ("SCS", H, "aviation", "Công ty Cổ phần Dịch vụ Hàng hóa Sài Gòn", "Saigon Cargo Service Corporation", ()),
    ("AST", H, "aviation", "Công ty Cổ phần Dịch vụ Hàng không Taseco", "Taseco Air Services Joint Stock Company", ("Taseco",)),
    ("SGN", H, "aviation", "Công ty Cổ phần Phục vụ Mặt đất Sài Gòn", "Saigon Ground Services Joint Stock Company", ("SAGS",)),
    # --- insurance
    ("BVH", H, "insurance", "Tập đoàn Bảo Việt", "Bao Viet Holdings", ("Bảo Việt",)),
    ("VNR", N, "insurance", "Tổng Công ty Cổ phần Tái bảo hiểm Quốc gia Việt Nam", "Vietnam National Reinsurance Corporation", ("Vinare",)),
    ("BMI", H, "insurance", "Tổng Công ty Cổ phần Bảo Minh", "Bao Minh Insurance Corporation", ("Bảo Minh",)),
    ("PVI", N, "insurance", "Công ty Cổ phần PVI", "PVI Holdings", ("Bảo hiểm PVI",)),
    ("MIG", H, "insurance", "Tổng Công ty Cổ phần Bảo hiểm Quân đội", "Military Insurance Corporation", ("MIC",)),
    ("BIC", H, "insurance", "Tổng Công ty Cổ phần Bảo hiểm Ngân hàng Đầu tư và Phát triển Việt Nam", "BIDV Insurance Corporation", ("Bảo hiểm BIDV",)),
    # --- chemicals and fertilisers
    ("DGC", H, "chemicals", "Công ty Cổ phần Tập đoàn Hóa chất Đức Giang", "Duc Giang Chemicals Group Joint Stock Company", ("Hóa chất Đức Giang",)),
    ("DPM", H, "chemicals", "Tổng Công ty Phân bón và Hóa chất Dầu khí - CTCP", "PetroVietnam Fertilizer and Chemicals Corporation", ("Đạm Phú Mỹ", "PVFCCo")),
    ("DCM", H, "chemicals", "Công ty Cổ phần Phân bón Dầu khí Cà Mau", "PetroVietnam Ca Mau Fertilizer Joint Stock Company", ("Đạm Cà Mau",)),
    ("CSV", H, "chemicals", "Công ty Cổ phần Hóa chất Cơ bản Miền Nam", "South Basic Chemicals Joint Stock Company", ()),
    ("BFC", H, "chemicals", "Công ty Cổ phần Phân bón Bình Điền", "Binh Dien Fertilizer Joint Stock Company", ("Phân bón Bình Điền",)),
    ("LAS", N, "chemicals", "Công ty Cổ phần Supe Phốt phát và Hóa chất Lâm Thao", "Lam Thao Fertilizers and Chemicals Joint Stock Company", ("Supe Lâm Thao",)),
    # --- construction
    ("CTD", H, "construction", "Công ty Cổ phần Xây dựng Coteccons", "Coteccons Construction Joint Stock Company", ("Coteccons",)),
    ("CII", H, "construction", "Công ty Cổ phần Đầu tư Hạ tầng Kỹ thuật Thành phố Hồ Chí Minh", "Ho Chi Minh City Infrastructure Investment Joint Stock Company", ("Hạ tầng Kỹ thuật TP.HCM",)),
    ("VCG", H, "construction", "Tổng Công ty Cổ phần Xuất nhập khẩu và Xây dựng Việt Nam", "Vietnam Construction and Import-Export Joint Stock Corporation", ("Vinaconex",)),
    ("HHV", H, "construction", "Công ty Cổ phần Đầu tư Hạ tầng Giao thông Đèo Cả", "Deo Ca Traffic Infrastructure Investment Joint Stock Company", ("Đèo Cả",)),
    ("FCN", H, "construction", "Công ty Cổ phần FECON", "FECON Corporation", ("Fecon",)),
    ("PC1", H, "construction", "Công ty Cổ phần Tập đoàn PC1", "PC1 Group Joint Stock Company", ()),
    ("C4G", U, "construction", "Công ty Cổ phần Tập đoàn CIENCO4", "CIENCO4 Group Joint Stock Company", ("Cienco4",)),
    ("ROS", U, "construction", "Công ty Cổ phần Xây dựng FLC Faros", "FLC Faros Construction Joint Stock Company", ("FLC Faros",)),
    # --- seafood
    ("VHC", H, "seafood", "Công ty Cổ phần Vĩnh Hoàn", "Vinh Hoan Corporation", ("Vĩnh Hoàn",)),
    ("ANV", H, "seafood", "Công ty Cổ phần Nam Việt", "Nam Viet Corporation", ("Navico",)),
    ("FMC", H, "seafood", "Công ty Cổ phần Thực phẩm Sao Ta", "Sao Ta Foods Joint Stock Company", ("Sao Ta",)),
    ("IDI", H, "seafood", "Công ty Cổ phần Đầu tư và Phát triển Đa Quốc Gia I.D.I", "I.D.I International Development and Investment Corporation", ()),
    ("MPC", U, "seafood", "Công ty Cổ phần Tập đoàn Thủy sản Minh Phú", "Minh Phu Seafood Corporation", ("Minh Phú",)),
    ("ASM", H, "seafood", "Công ty Cổ phần Tập đoàn Sao Mai", "Sao Mai Group Corporation", ("Sao Mai",)),
    # --- pharma
    ("DHG", H, "pharma", "Công ty Cổ phần Dược Hậu Giang", "DHG Pharmaceutical Joint Stock Company", ("Dược Hậu Giang",)),
    ("IMP", H, "pharma", "Công ty Cổ phần Dược phẩm Imexpharm", "Imexpharm Corporation", ("Imexpharm",)),
    ("DBD", H, "pharma", "Công ty Cổ phần Dược - Trang thiết bị Y tế Bình Định", "Binh Dinh Pharmaceutical and Medical Equipment Joint Stock Company", ("Bidiphar",)),
    ("TRA", H, "pharma", "Công ty Cổ phần Traphaco", "Traphaco Joint Stock Company", ("Traphaco",)),
    ("DMC", H, "pharma", "Công ty Cổ phần Xuất nhập khẩu Y tế Domesco", "Domesco Medical Import Export Joint Stock Corporation", ("Domesco",)),
    ("DVN", U, "pharma", "Tổng Công ty Dược Việt Nam - CTCP", "Vietnam Pharmaceutical Corporation", ("Vinapharm",)),
    # --- ports, shipping, logistics
    ("GMD", H, "logistics", "Công ty Cổ phần Gemadept", "Gemadept Corporation", ("Gemadept",)),
    ("VSC", H, "logistics", "Công ty Cổ phần Container Việt Nam", "Vietnam Container Shipping Joint Stock Company", ("Viconship",)),
    ("HAH", H, "logistics", "Công ty Cổ phần Vận tải và Xếp dỡ Hải An", "Hai An Transport and Stevedoring Joint Stock Company", ("Hải An",)),
    ("VOS", H, "logistics", "Công ty Cổ phần Vận tải Biển Việt Nam", "Vietnam Ocean Shipping Joint Stock Company", ("Vosco",)),
    # --- industrial
    ("GEX", H, "industrial", "Công ty Cổ phần Tập đoàn GELEX", "GELEX Group Joint Stock Company", ("Gelex",)),
    ("VEA", U, "industrial", "Tổng Công ty Máy động lực và Máy nông nghiệp Việt Nam - CTCP", "Vietnam Engine and Agricultural Machinery Corporation", ("VEAM",)),
]  # fmt: skip

_NOTES = {
    "ROS": "VN30 constituent on HOSE in 2016-2019; delisted from HOSE in 2023 and moved to "
    "UPCoM. Historical bars of that period follow HOSE rules.",
}

LISTINGS: dict[str, Listing] = {
    sym: Listing(sym, ex, name, en, group, aliases, _NOTES.get(sym, ""))
    for sym, ex, group, name, en, aliases in _TABLE
}


# --- text matching ------------------------------------------------------------------------------
_GENERIC = re.compile(
    r"\b(cong ty co phan|tong cong ty co phan|tong cong ty|cong ty|co phan|ctcp|cp|tmcp|"
    r"joint stock company|joint stock corporation|jsc|corporation|company)\b"
)


def normalize_text(text: str) -> str:
    """Lower-case, accent-free, punctuation-free text ("Hòa Phát" -> "hoa phat")."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(re.sub(r"[^0-9a-z]+", " ", stripped.lower()).split())


@lru_cache(maxsize=1)
def _search_keys() -> list[tuple[str, str]]:
    """(normalised key, symbol) for every name, core name and alias."""
    keys: list[tuple[str, str]] = []
    for sym, item in LISTINGS.items():
        texts = {item.name, item.english_name, *item.aliases}
        for text in texts:
            norm = normalize_text(text)
            core = " ".join(_GENERIC.sub(" ", norm).split())
            keys.extend((k, sym) for k in {norm, core} if k)
        keys.append((sym.lower(), sym))
    return keys


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def closest_symbols(text: str, n: int = 3) -> list[str]:
    """Up to ``n`` known symbols best matching a ticker, company name or alias (fuzzy, accent-free).

    Exact ticker first, then exact names/aliases, then names containing the text as whole words,
    then close spellings (difflib).
    """
    query = normalize_text(text)
    if not query or n <= 0:
        return []
    scores: dict[str, float] = {}

    def bump(sym: str, score: float) -> None:
        scores[sym] = max(scores.get(sym, 0.0), score)

    if query.upper() in LISTINGS:
        bump(query.upper(), 4.0)
    padded = f" {query} "
    for key, sym in _search_keys():
        if key == query:
            bump(sym, 3.0)
        elif len(query) >= 3 and padded in f" {key} ":
            bump(sym, 2.0 + len(query) / (100.0 + len(key)))
        else:
            ratio = difflib.SequenceMatcher(None, query, key).ratio()
            if ratio >= 0.6:
                # a shared leading part weighs more: "VNN" is closer to VNM than to DVN
                prefix = _common_prefix(query, key)
                bump(sym, ratio + 0.05 * prefix)
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    return [sym for sym, _ in ranked[:n]]


# --- lookups ------------------------------------------------------------------------------------
def is_known(symbol: str) -> bool:
    """Whether ``symbol`` (any case, surrounding spaces ignored) is in the snapshot."""
    return isinstance(symbol, str) and symbol.strip().upper() in LISTINGS


def get_listing(symbol: str) -> Listing:
    """The listing of ``symbol``; raises :class:`UnknownSymbolError` with suggestions."""
    key = symbol.strip().upper() if isinstance(symbol, str) else symbol
    try:
        return LISTINGS[key]
    except (KeyError, TypeError):
        raise UnknownSymbolError(str(symbol), closest_symbols(str(symbol))) from None


def exchange_of(symbol: str) -> Exchange:
    """Exchange of a known symbol; unknown symbols raise :class:`UnknownSymbolError`."""
    return get_listing(symbol).exchange


def symbols_in_group(group: str) -> list[str]:
    """Sorted symbols of a sector group, by key ("banking") or label ("ngân hàng", "Ngan hang")."""
    wanted = normalize_text(group).replace(" ", "_")
    by_label = {normalize_text(label).replace(" ", "_"): key for key, label in GROUPS.items()}
    key = wanted if wanted in GROUPS else by_label.get(wanted)
    if key is None:
        raise ValueError(f"unknown group {group!r}; known groups: {', '.join(GROUPS)}")
    return sorted(sym for sym, item in LISTINGS.items() if item.group == key)
