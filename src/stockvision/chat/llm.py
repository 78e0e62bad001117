"""Optional rephrasing of a deterministic answer by an OpenAI-compatible chat endpoint.

The deterministic answer stays the source of truth: the rephrased text is used only when every
number and every ticker of the original appears in it unchanged. Any network error, timeout,
malformed reply or altered figure falls back to the original text.
"""

from __future__ import annotations

import logging
import re

import httpx

from stockvision.config import Settings

log = logging.getLogger(__name__)

_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
_TICKER_RE = re.compile(r"\b[A-Z][A-Z0-9]{2}\b")
_PROMPT = {
    "vi": (
        "Viết lại câu trả lời dự báo cổ phiếu sau bằng tiếng Việt tự nhiên, giọng một chuyên viên "
        "phân tích cẩn trọng. Giữ NGUYÊN mọi con số, mã cổ phiếu, ngày và phần trăm đúng như đã "
        "viết. Không thêm số liệu, dữ kiện hay lời khuyên mua/bán."
    ),
    "en": (
        "Rephrase the following stock-forecast answer in natural English, in the tone of a careful "
        "analyst. Keep EVERY number, ticker, date and percent exactly as written. Do not add "
        "figures, facts or buy/sell advice."
    ),
}


def numbers_in(text: str) -> list[str]:
    """Numeric tokens as written ("68,5", "1.234", "80")."""
    return _NUMBER_RE.findall(text)


def preserves_facts(original: str, rephrased: str) -> bool:
    """True when every number and ticker of ``original`` appears as a whole token in ``rephrased``."""
    have = set(numbers_in(rephrased))
    if any(num not in have for num in numbers_in(original)):
        return False
    tickers = set(_TICKER_RE.findall(rephrased))
    return all(t in tickers for t in _TICKER_RE.findall(original))


class LLMRephraser:
    """POST ``{base_url}/chat/completions``; return the rephrased text or the original."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        model: str = "gpt-4o-mini",
        timeout: float = 4.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not base_url:
            raise ValueError("LLMRephraser needs base_url (set SV_LLM_BASE_URL).")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.model = model
        self.timeout = timeout
        self.transport = transport

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMRephraser | None:
        """A rephraser when ``llm_base_url`` is configured, else ``None``."""
        if not settings.llm_base_url:
            return None
        return cls(settings.llm_base_url, settings.llm_api_key, settings.llm_model)

    def rephrase(self, text: str, language: str = "vi") -> str:
        """Rephrased ``text`` if the endpoint answers and keeps all figures; ``text`` otherwise."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        payload = {
            "model": self.model,
            "temperature": 0.2,
            "messages": [
                {"role": "system", "content": _PROMPT.get(language, _PROMPT["en"])},
                {"role": "user", "content": text},
            ],
        }
        try:
            with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
                resp = client.post(
                    f"{self.base_url}/chat/completions", json=payload, headers=headers
                )
                resp.raise_for_status()
                content = resp.json()["choices"][0]["message"]["content"]
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
            log.warning("LLM rephrasing failed (%s); using the deterministic answer", exc)
            return text
        if not isinstance(content, str) or not content.strip():
            return text
        content = content.strip()
        if not preserves_facts(text, content):
            log.warning("LLM rephrasing changed or dropped figures; using the deterministic answer")
            return text
        return content
