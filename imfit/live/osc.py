"""OSC in and out over UDP (python-osc does the wire format).

`OscIn` is drained by the viewer's own loop, between frames, with a budget per frame: no thread
competes with the renderer for the interpreter, and a flood costs at most the budget per frame
(what the kernel's socket buffer cannot hold it drops). Every packet that cannot be used is
logged as one line and ignored. `OscOut` sends `/imfit/<name> value` for every value that
changed, so a TouchOSC or TouchDesigner layout shows the truth.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

from imfit.errors import ImfitError

log = logging.getLogger("imfit.osc")
PREFIX = "/imfit/"
MAX_PACKETS_PER_FRAME = 64
BUDGET_S = 0.002  # at most this long per frame reading OSC


class IgnoreLog:
    """One warning line per ignored message, up to `per_second` lines a second; beyond that
    (a flood) one summary line a second, so logging itself never slows the viewer down."""

    def __init__(self, logger: logging.Logger, per_second: int = 50) -> None:
        self.logger = logger
        self.per_second = per_second
        self.window = 0.0
        self.lines = 0
        self.suppressed = 0

    def __call__(self, text: str) -> None:
        now = time.monotonic()
        if now - self.window >= 1.0:
            if self.suppressed:
                self.logger.warning("osc: %d more messages ignored in the last second (flood; "
                                    "not logged one by one)", self.suppressed)
            self.window, self.lines, self.suppressed = now, 0, 0
        if self.lines < self.per_second:
            self.lines += 1
            self.logger.warning("%s", text)
        else:
            self.suppressed += 1

    def flush(self) -> None:
        if self.suppressed:
            self.logger.warning("osc: %d more messages ignored (flood; not logged one by one)",
                                self.suppressed)
            self.suppressed = 0


ignored = IgnoreLog(log)


def _python_osc() -> Any:
    try:
        from pythonosc import osc_packet
    except ImportError:
        raise ImfitError("OSC needs python-osc: pip install 'imfit[live]'") from None
    return osc_packet


def parse_host_port(text: str, what: str = "--osc-out") -> tuple[str, int]:
    """'HOST:PORT' (or ':PORT' for 127.0.0.1) -> (host, port), checked."""
    host, sep, port = text.rpartition(":")
    if not sep:
        raise ImfitError(f"{what} {text!r}: use HOST:PORT, e.g. 127.0.0.1:9001")
    return host or "127.0.0.1", check_port(port, what)


def check_port(port: Any, what: str = "--osc") -> int:
    try:
        p = int(port)
    except (TypeError, ValueError):
        raise ImfitError(f"{what}: port {port!r} is not a number") from None
    if not 1 <= p <= 65535:
        raise ImfitError(f"{what}: port {p} is not in 1..65535")
    return p


class OscIn:
    """A UDP socket bound to (host, port); `poll()` returns the messages that arrived."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self._packet = _python_osc().OscPacket
        self.port = check_port(port)
        try:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind((host, self.port))
        except OSError as e:
            raise ImfitError(f"cannot listen for OSC on {host}:{self.port} ({e.strerror or e})"
                             ) from None
        self.sock.setblocking(False)
        self.host = host
        self.received = 0  # packets read, good or bad (the test mode waits on this)
        self.ignored = 0

    def poll(self, max_packets: int = MAX_PACKETS_PER_FRAME,
             budget_s: float = BUDGET_S) -> Iterator[tuple[str, list[Any]]]:
        """(address, arguments) of each message read now, within the budget; bundles are
        opened (their time tags are ignored: live control applies at once)."""
        deadline = time.perf_counter() + budget_s
        for _ in range(max_packets):
            try:
                data, sender = self.sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # e.g. ICMP port unreachable reported on this socket
                log.warning("osc: receive failed (%s); ignored", e)
                return
            self.received += 1
            try:
                msgs = [(m.message.address, list(m.message.params))
                        for m in self._packet(data).messages]
            except Exception as e:  # noqa: BLE001 - any undecodable packet is ignored
                self.ignored += 1
                why = str(e).splitlines()[0][:80] if str(e) else type(e).__name__
                ignored(f"osc: malformed packet of {len(data)} bytes from "
                        f"{sender[0]}:{sender[1]} ignored ({why})")
                continue
            yield from msgs
            if time.perf_counter() > deadline:
                return

    def close(self) -> None:
        ignored.flush()
        self.sock.close()


class OscOut:
    """Sends `/imfit/<name> value` to HOST:PORT for every value that changed since last time."""

    def __init__(self, host: str, port: int) -> None:
        _python_osc()
        from pythonosc.udp_client import SimpleUDPClient

        try:
            self.client = SimpleUDPClient(host, port)
        except (OSError, ValueError) as e:
            raise ImfitError(f"--osc-out {host}:{port}: {e}") from None
        self.host, self.port = host, port
        self.last: dict[str, Any] = {}

    def send_changes(self, state: dict[str, Any]) -> int:
        """Send what differs from the last state sent; returns how many messages went out."""
        n = 0
        for name, value in state.items():
            if self.last.get(name, object()) != value:
                try:
                    self.client.send_message(PREFIX + name, value)
                    n += 1
                except OSError as e:  # a receiver that is not there is not our problem
                    log.warning("osc-out: %s%s not sent (%s)", PREFIX, name, e)
                self.last[name] = value
        return n
