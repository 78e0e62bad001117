"""Optional rephrasing of a deterministic answer by an OpenAI-compatible chat endpoint.

The deterministic answer stays the source of truth: the rephrased text is used only when every
number and every ticker of the original appears in it unchanged. Any network error, timeout,
malformed reply or altered figure falls back to the original text.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

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


_AGENT_PROMPT = {
    "vi": (
        "Bạn là Stock Vision, trợ lý dự báo cổ phiếu Việt Nam. Luôn gọi công cụ để lấy số liệu; chỉ "
        "dùng các con số có trong kết quả công cụ, không tự đặt ra số nào. Trả lời ngắn gọn bằng "
        "tiếng Việt, không khuyên mua/bán."
    ),
    "en": (
        "You are Stock Vision, a forecaster for Vietnamese stocks. Always call a tool for figures; "
        "use only numbers that appear in tool results, never make one up. Answer briefly in "
        "English, without buy/sell advice."
    ),
}


class LLMAgentPlanner:
    """Plan and phrase a turn with OpenAI-compatible function calling (``tools``/``tool_calls``).

    ``run`` sends the question with the tool schemas, executes the tool calls the model asks for
    (at most ``max_rounds`` rounds), and returns the model's final text, or None when the endpoint
    fails or misbehaves. The caller checks the text's numbers against the tool results (grounding)
    and falls back to the deterministic answer when they do not match.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        model: str = "gpt-4o-mini",
        timeout: float = 8.0,
        max_rounds: int = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not base_url:
            raise ValueError("LLMAgentPlanner needs base_url (set SV_LLM_BASE_URL).")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.model = model
        self.timeout = timeout
        self.max_rounds = max_rounds
        self.transport = transport

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMAgentPlanner | None:
        if not settings.llm_base_url:
            return None
        return cls(settings.llm_base_url, settings.llm_api_key, settings.llm_model)

    def run(
        self,
        message: str,
        language: str,
        tools: dict[str, Any],
        schemas: list[dict[str, Any]],
    ) -> str | None:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": _AGENT_PROMPT.get(language, _AGENT_PROMPT["en"])},
            {"role": "user", "content": message},
        ]
        with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
            for _ in range(self.max_rounds):
                resp = client.post(
                    f"{self.base_url}/chat/completions",
                    json={"model": self.model, "messages": messages, "tools": schemas},
                    headers=headers,
                )
                resp.raise_for_status()
                reply = resp.json()["choices"][0]["message"]
                calls = reply.get("tool_calls") or []
                if not calls:
                    content = reply.get("content")
                    return content.strip() if isinstance(content, str) and content.strip() else None
                messages.append({"role": "assistant", "content": None, "tool_calls": calls})
                for call in calls:
                    fn = call.get("function") or {}
                    name = fn.get("name")
                    try:
                        args = json.loads(fn.get("arguments") or "{}")
                        if name not in tools or not isinstance(args, dict):
                            raise ValueError(f"unknown tool {name!r}")
                        result: Any = tools[name](**args)
                    except Exception as exc:  # the model sees the error and may try again
                        result = {"error": getattr(exc, "code", "error"), "message": str(exc)[:200]}
                    messages.append(
                        {
                            "role": "tool",
                            "tool_call_id": call.get("id", ""),
                            "content": json.dumps(result, default=str, ensure_ascii=False),
                        }
                    )
        return None
