"""Warm chat latency, question to answer text: through ChatService and through POST /chat.

Goal: p95 < 300 ms warm. Needs a trained data directory (``stockvision pipeline run``); point
SV_DATA_DIR (and the SV_* settings of that run) at it:

    SV_DATA_DIR=/tmp/x SV_SOURCE=csv SV_CSV_PATHS=... SV_UNIVERSE=... \
        .venv/bin/python benchmarks/bench_chat.py --rounds 20

"Warm" = every question asked once before timing (models loaded, prediction cache filled); the
HTTP figures come from a real uvicorn server on a loopback port, measured by an httpx client.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time

QUESTIONS = [
    "Dự đoán giá VNM tháng sau?",
    "vnm thang sau the nao",
    "còn FPT thì sao?",
    "Mã nào tăng tháng tới?",
    "top 3 cổ phiếu ngân hàng giảm mạnh nhất",
    "Tại sao FPT tăng?",
    "so sánh HPG và VCB",
    "mô hình chính xác không?",
    "biểu đồ FPT 1 năm",
    "Predict MWG next month",
    "có nên mua SSI không?",
    "xin chào",
]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _report(label: str, samples: dict[str, list[float]]) -> None:
    everything = [v for vs in samples.values() for v in vs]
    print(f"\n{label}: {len(everything)} answers")
    print(f"  {'question':<42} {'p50 ms':>8} {'p95 ms':>8}")
    for q, vs in samples.items():
        print(f"  {q:<42} {statistics.median(vs):8.1f} {_pct(vs, 0.95):8.1f}")
    p50, p95 = statistics.median(everything), _pct(everything, 0.95)
    verdict = "OK" if p95 < 300 else "OVER GOAL"
    print(f"  ALL: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(everything):.1f} ms -> {verdict}")


def bench_service(chat, rounds: int) -> dict[str, list[float]]:
    for q in QUESTIONS:  # warm-up
        chat.ask(q, "warm")
    samples: dict[str, list[float]] = {q: [] for q in QUESTIONS}
    for r in range(rounds):
        sid = f"bench-{r}"
        for q in QUESTIONS:
            t0 = time.perf_counter()
            chat.ask(q, sid)
            samples[q].append((time.perf_counter() - t0) * 1000)
    return samples


def bench_http(settings, rounds: int) -> dict[str, list[float]]:
    import httpx
    import uvicorn

    from stockvision.serving.app import create_app

    # the per-client rate limit would throttle one benchmarking client; latency is the question
    settings = settings.model_copy(
        update={"rate_limit_per_minute": 10**9, "ops_rate_limit_per_minute": 10**9}
    )
    app = create_app(settings, start_background=False, mount_chat_ui=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/chat"
    samples: dict[str, list[float]] = {q: [] for q in QUESTIONS}
    try:
        with httpx.Client(timeout=30) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if client.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not start")
                time.sleep(0.3)
            for q in QUESTIONS:
                client.post(url, json={"message": q, "session_id": "warm"}).raise_for_status()
            for r in range(rounds):
                for q in QUESTIONS:
                    t0 = time.perf_counter()
                    resp = client.post(url, json={"message": q, "session_id": f"http-{r}"})
                    resp.raise_for_status()
                    samples[q].append((time.perf_counter() - t0) * 1000)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()

    from stockvision.chat.wiring import build_engine
    from stockvision.config import get_settings
    from stockvision.serving.service import PredictionService

    settings = get_settings()
    service = PredictionService(settings)
    t0 = time.perf_counter()
    service.start(background=False)
    print(f"service start (models + panel): {(time.perf_counter() - t0) * 1000:.0f} ms")
    print(f"cache backend: {service.cache.backend}; data dir: {settings.home}")
    t0 = time.perf_counter()
    chat = build_engine(service, settings)
    print(f"build_engine: {(time.perf_counter() - t0) * 1000:.0f} ms")
    t0 = time.perf_counter()
    chat.ask("Dự đoán giá VNM tháng sau?", "cold")
    print(f"first (cold) answer: {(time.perf_counter() - t0) * 1000:.0f} ms")
    _report("ChatService.ask (in process, warm)", bench_service(chat, args.rounds))
    service.stop()
    if not args.skip_http:
        _report("POST /chat (uvicorn + httpx, warm)", bench_http(settings, args.rounds))


if __name__ == "__main__":
    main()
