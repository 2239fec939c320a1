"""One viewer track's RTP stream, sent synchronously from the fan-out: header, SRTP, ``sendto``.

aiortc's ``RTCRtpSender._run_rtp`` builds an ``RtpPacket`` object per packet, serializes it,
reads a datetime-based NTP clock twice, protects it through libsrtp and passes it down three
coroutine layers to the socket; at ~260 packets a second per viewer that was ~40 µs of event-loop
time per packet. Here a viewer's packet costs one ``struct.pack_into`` on a prebuilt header and
one AES-GCM call (:mod:`streaming.webrtc.rtp.srtp`), and a viewer's frame one ``sendmsg`` per run
of equal-size packets with UDP segmentation offload (GSO: the kernel cuts the datagrams, which
halves the per-packet kernel cost measured here) on the ICE pair's socket. All of it is called
straight from the hub while it fans a frame out: no task switch, no queue in between.

aiortc still owns everything else: ICE, DTLS, incoming RTCP (receiver reports, NACK, PLI) and
retransmissions through its libsrtp session. Sender reports are built and sent here too
(:meth:`RtpStream.send_report`, called from the track's replacement of aiortc's RTCP loop).
What this needs of aiortc (private parts) it takes once, in :func:`open_stream`, through
:func:`streaming.webrtc.aiortc_boundary.sender_link`; should that fail, it returns None and the
caller falls back to aiortc's own send loop.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from streaming.webrtc.aiortc_boundary import (
    RTCRtpSender,
    on_dtls_ended,
    record_sender_report,
    sender_link,
    update_sender_counters,
)
from streaming.webrtc.rtp.packets import MediaPacket
from streaming.webrtc.rtp.srtp import AeadRtpCipher

log = logging.getLogger(__name__)

#: Packets kept for NACK (aiortc keeps 128 too); a power of two, indexed by a mask.
HISTORY = 128
HISTORY_MASK = HISTORY - 1
#: Sender-report counters are handed to aiortc every this many frames.
SENDER_REPORT_EVERY = 8
#: UDP_SEGMENT (linux/udp.h): the segment size of one sendmsg, as ancillary data.
UDP_SEGMENT = 103
#: Seconds between 1900 (NTP) and 1970 (Unix).
NTP_EPOCH_OFFSET = 2_208_988_800

_pack_into = struct.pack_into
_time = time.time


_SEGMENT_SIZES: dict[int, list[tuple[int, int, bytes]]] = {}


def _segment_option(size: int) -> list[tuple[int, int, bytes]]:
    option = [(socket.IPPROTO_UDP, UDP_SEGMENT, struct.pack("=H", size))]
    _SEGMENT_SIZES[size] = option
    return option


#: ``[unix time, NTP timestamp, abs-send-time bytes]`` of the last refresh, shared by every
#: stream: a frame goes to all viewers within well under a millisecond, and converting the clock
#: per viewer was a tenth of the per-packet cost.
_CLOCK: list = [0.0, 0, b"\0\0\0"]
#: How long a reading of the clock is reused (abs-send-time has 3.8 µs steps; receivers'
#: estimators look at spacings of several milliseconds).
CLOCK_REUSE_S = 0.0005


def send_clock() -> list:
    """``_CLOCK``, refreshed when older than :data:`CLOCK_REUSE_S`."""
    now = _time()
    clock = _CLOCK
    if now - clock[0] > CLOCK_REUSE_S:
        ntp = int((now + NTP_EPOCH_OFFSET) * 4294967296)
        clock[0] = now
        clock[1] = ntp
        clock[2] = ((ntp >> 14) & 0xFFFFFF).to_bytes(3, "big")
    return clock


def ntp_now() -> int:
    """The 64-bit NTP timestamp of now (what aiortc's ``clock.current_ntp_time`` returns)."""
    return int((time.time() + NTP_EPOCH_OFFSET) * 4294967296)


class RtpStream:
    """The RTP stream of one track of one viewer.

    ``send(packet)`` sends a whole frame (all its payloads, marker on the last) at once and
    returns False when the viewer's socket is backed up (the caller then skips ahead). It
    keeps the last :data:`HISTORY` packets for NACK, and hands the sender-report counters to
    ``on_counters(ntp, rtp_timestamp, octets, packets)`` and each report's NTP time to
    ``on_report(lsr, lsr_time)`` (aiortc's sender keeps them for ``getStats()`` and RTT).
    ``protect``/``protect_rtcp`` are aiortc's libsrtp session (RTCP, and RTP without an AEAD
    ``cipher``), ``send_rtp`` its transport's RTP send (RTX). The owner calls :meth:`close`
    when the DTLS transport ends.
    """

    def __init__(
        self,
        *,
        payload_type: int,
        ssrc: int,
        header: bytes,
        abs_send_time_at: int | None,
        cipher: AeadRtpCipher | None,
        protect: Callable[[bytes], bytes],
        protect_rtcp: Callable[[bytes], bytes],
        send_rtp: Callable[[bytes], Awaitable[None]],
        sock: Any,
        address: tuple[str, int],
        sequence_number: int,
        timestamp_origin: int,
        rtx: tuple[int, int] | None,
        on_counters: Callable[[int, int, int, int], None] | None = None,
        on_report: Callable[[int, float], None] | None = None,
        nack: bool = True,
        gso: bool = True,
        cname: str | None = None,
    ) -> None:
        if len(header) < 12 or (abs_send_time_at is not None and abs_send_time_at < 12):
            raise ValueError("unexpected RTP header template")
        self._payload_type = payload_type
        # A header is one struct.pack: first two octets (marker and payload type in the
        # second), sequence number, then the rest of the frame's header (timestamp, SSRC,
        # extensions), which one more pack makes once per frame.
        self._pack_header = struct.Struct(f"!HH{len(header) - 4}s").pack
        self._first_octets = (header[0] << 8) | payload_type
        extensions = bytes(header[12:])
        at = len(extensions) if abs_send_time_at is None else abs_send_time_at - 12
        self._ast = abs_send_time_at is not None
        self._pack_rest = struct.Struct(
            f"!II{at}s{3 if self._ast else 0}s{len(extensions) - at - (3 if self._ast else 0)}s"
        ).pack
        self._extensions_before = extensions[:at]
        self._extensions_after = extensions[at + 3 :] if self._ast else b""
        self._cipher = cipher
        self._iv_base = cipher.iv_base(ssrc) if cipher is not None else 0
        self._encrypt = cipher.encrypt if cipher is not None else None
        # Every datagram of this stream: header, payload, then the SRTP tag.
        self._overhead = len(header) + (cipher.TAG if cipher is not None else 10)
        self._protect = protect
        self._protect_rtcp = protect_rtcp
        self._send_rtp = send_rtp
        self._on_counters = on_counters
        self._on_report = on_report
        # A handle of its own on the ICE pair's socket: sendmsg (GSO) is not available through
        # the asyncio transport. The socket is non-blocking; a full buffer means lag.
        self._socket = socket.socket(sock.family, sock.type, fileno=os.dup(sock.fileno()))
        self._socket.setblocking(False)
        self._gso = gso and sock.family in (socket.AF_INET, socket.AF_INET6)
        self._address = address
        # The SRTP packet index (rollover counter << 16 | sequence number) of the next packet.
        self._index = sequence_number & 0xFFFF
        self._origin = timestamp_origin
        self._rtx = rtx
        self._rtx_sequence = sequence_number ^ 0x5A5A
        self._ssrc = ssrc
        self._sdes = sdes_cname(ssrc, cname) if cname else b""
        # The NTP/RTP timestamp pair of the last frame sent, for the next sender report.
        self._report_ntp = 0
        self._report_timestamp = 0
        # Only kept when the viewer may NACK (video; audio negotiates no NACK): header and
        # payload by ``sequence & HISTORY_MASK``, stored a frame at a time by slice; nothing per
        # packet that the garbage collector would have to trace.
        self._history_heads: list[bytes | None] | None = [None] * HISTORY if nack else None
        self._history_payloads: list[bytes | None] | None = [None] * HISTORY if nack else None
        self.packets = 0
        self.octets = 0
        self.frames = 0
        self.refused = 0
        self.retransmitted = 0
        self.reports = 0
        self.closed = False
        self.on_first: Callable[[], None] | None = None

    @property
    def encryption(self) -> str:
        return "aes-gcm" if self._cipher is not None else "libsrtp"

    def send(self, packet: MediaPacket) -> bool:
        """Send ``packet``'s payloads now; False if the viewer cannot take them.

        This runs once per frame and viewer, so it is written for the interpreter: locals
        instead of attribute lookups, one ``struct.pack`` per header, the packets of a frame
        made in comprehensions, their history kept by slice, and a path of its own for
        single-packet frames (every audio packet).
        """
        if self.closed:
            return False
        clock = send_clock()
        timestamp = (self._origin + packet.timestamp) & 0xFFFFFFFF
        rest = self._pack_rest(
            timestamp,
            self._ssrc,
            self._extensions_before,
            clock[2] if self._ast else b"",
            self._extensions_after,
        )
        payloads = packet.payloads
        count = len(payloads)
        first = self._index
        end = first + count
        # Numbers are used even if the frame does not leave (the viewer sees a gap).
        self._index = end & 0xFFFFFFFFFFFF
        pack = self._pack_header
        octets = self._first_octets
        encrypt = self._encrypt
        if count == 1:
            payload = payloads[0]
            head = pack(octets | 0x80, first & 0xFFFF, rest)
            if encrypt is not None:
                iv = (self._iv_base ^ first).to_bytes(12, "big")
                data = head + encrypt(iv, payload, head)
            else:
                data = self._protect(head + payload)
            heads = self._history_heads
            if heads is not None:
                slot = first & HISTORY_MASK
                heads[slot] = head
                self._history_payloads[slot] = payload  # type: ignore[index]
            try:
                self._socket.sendto(data, self._address)
            except OSError:
                self.refused += 1
                return False
        else:
            last = end - 1
            headers = [pack(octets, number & 0xFFFF, rest) for number in range(first, last)]
            headers.append(pack(octets | 0x80, last & 0xFFFF, rest))
            if encrypt is not None:
                iv_base = self._iv_base
                datagrams = [
                    head + encrypt((iv_base ^ number).to_bytes(12, "big"), payload, head)
                    for head, payload, number in zip(
                        headers, payloads, range(first, end), strict=True
                    )
                ]
            else:
                protect = self._protect
                datagrams = [
                    protect(head + payload) for head, payload in zip(headers, payloads, strict=True)
                ]
            if self._history_heads is not None:
                self._keep(first, headers, payloads)
            if not self._transmit(datagrams, packet.groups):
                return False
        self.packets += count
        self.octets += packet.size
        self.frames += 1
        self._report_ntp = clock[1]
        self._report_timestamp = timestamp
        if self.frames % SENDER_REPORT_EVERY == 1 and self._on_counters is not None:
            # What aiortc's sender keeps of its RTP loop (its getStats() reads them).
            self._on_counters(clock[1], timestamp, self.octets, self.packets)
        if self.on_first is not None:
            on_first, self.on_first = self.on_first, None
            on_first()
        return True

    def _keep(self, first: int, headers: list[bytes], payloads: list[bytes]) -> None:
        """Keep a frame's packets for NACK: slot ``sequence & HISTORY_MASK`` of the two lists,
        by slice (at most two per list, where the ring wraps)."""
        heads = self._history_heads
        kept = self._history_payloads
        assert heads is not None and kept is not None
        count = len(headers)
        if count > HISTORY:  # only the newest packets fit
            first += count - HISTORY
            headers = headers[-HISTORY:]
            payloads = payloads[-HISTORY:]
            count = HISTORY
        start = first & HISTORY_MASK
        stop = start + count
        if stop <= HISTORY:
            heads[start:stop] = headers
            kept[start:stop] = payloads
        else:
            split = HISTORY - start
            heads[start:] = headers[:split]
            kept[start:] = payloads[:split]
            heads[: stop - HISTORY] = headers[split:]
            kept[: stop - HISTORY] = payloads[split:]

    def _transmit(self, datagrams: list[bytes], groups: tuple[tuple[int, int, int], ...]) -> bool:
        """Send the datagrams, each run of equal sizes in one segmented ``sendmsg`` when the
        kernel offers UDP GSO. False when the socket is full (the viewer lags)."""
        sock = self._socket
        address = self._address
        try:
            if len(datagrams) == 1:
                sock.sendto(datagrams[0], address)
                return True
            if not self._gso:
                for datagram in datagrams:
                    sock.sendto(datagram, address)
                return True
            overhead = self._overhead
            for start, end, size in groups:
                if end - start == 1:
                    sock.sendto(datagrams[start], address)
                else:
                    segment = _SEGMENT_SIZES.get(size + overhead)
                    if segment is None:
                        segment = _segment_option(size + overhead)
                    sock.sendmsg(datagrams[start:end], segment, 0, address)
            return True
        except BlockingIOError:
            self.refused += 1
            return False
        except OSError as exc:
            if self._gso and exc.errno in (errno.EIO, errno.EINVAL, errno.ENOPROTOOPT):
                log.info("UDP segmentation offload refused (%s); sending one by one", exc)
                self._gso = False
                return self._transmit(datagrams, groups)
            self.refused += 1
            return False

    def send_report(self) -> bool:
        """Send an RTCP sender report (+ SDES CNAME) now, as aiortc's RTCP loop would, built
        with one ``struct.pack`` and sent with one libsrtp call and one ``sendto`` instead of
        its packet objects and three coroutine layers. False if nothing was sent."""
        if self.closed or not self.frames:
            return False
        ntp = self._report_ntp
        report = _SR.pack(
            0x80,
            200,
            6,
            self._ssrc,
            ntp,
            self._report_timestamp,
            self.packets & 0xFFFFFFFF,
            self.octets & 0xFFFFFFFF,
        )
        try:
            self._socket.sendto(self._protect_rtcp(report + self._sdes), self._address)
        except OSError:
            return False
        if self._on_report is not None:
            # aiortc computes the round-trip time from receiver reports that echo these.
            self._on_report((ntp >> 16) & 0xFFFFFFFF, _time())
        self.reports += 1
        return True

    def send_bye(self) -> None:
        """RTCP BYE for this stream's SSRC (when the sender stops)."""
        if self.closed:
            return
        with contextlib.suppress(OSError):
            bye = struct.pack("!BBHI", 0x81, 203, 1, self._ssrc)
            self._socket.sendto(self._protect_rtcp(bye), self._address)

    def close(self) -> None:
        """Stop sending and release the socket handle (the ICE transport keeps its own)."""
        self.closed = True
        if self._socket is not None:
            self._socket.close()
            self._socket = None  # type: ignore[assignment]

    async def retransmit(self, sequence_number: int) -> None:
        """Answer a NACK: resend the packet (as RTX when negotiated) if it is still kept."""
        heads = self._history_heads
        if heads is None or self.closed:
            return
        slot = sequence_number & HISTORY_MASK
        head = heads[slot]
        payload = self._history_payloads[slot]  # type: ignore[index]
        if head is None or payload is None or (head[2] << 8 | head[3]) != sequence_number:
            return
        # The packet's index: the newest index with these low 16 bits (the history is short).
        index = (self._index & ~0xFFFF) | sequence_number
        if index >= self._index:
            index -= 0x10000
        if index < 0:
            return
        self.retransmitted += 1
        if self._rtx is None:
            if self._cipher is not None:
                data = self._cipher.protect(head, payload, self._iv_base, index)
            else:
                data = self._protect(head + payload)
            with contextlib.suppress(OSError):
                self._socket.sendto(data, self._address)
            return
        rtx_payload_type, rtx_ssrc = self._rtx
        rtx = bytearray(head)
        rtx[1] = (rtx[1] & 0x80) | rtx_payload_type
        _pack_into("!H", rtx, 2, self._rtx_sequence)
        _pack_into("!I", rtx, 8, rtx_ssrc)
        self._rtx_sequence = (self._rtx_sequence + 1) & 0xFFFF
        # RFC 4588: the RTX payload starts with the original sequence number.
        await self._send_rtp(bytes(rtx) + struct.pack("!H", sequence_number) + payload)


_SR = struct.Struct("!BBHIQIII")


def sdes_cname(ssrc: int, cname: str) -> bytes:
    """An RTCP SDES packet with one chunk: ``ssrc``'s CNAME (RFC 3550 §6.5), padded with the
    terminating null octets to a 32-bit boundary."""
    text = cname.encode()[:255]
    chunk = struct.pack("!IBB", ssrc, 1, len(text)) + text
    chunk += b"\0" * (4 - len(chunk) % 4)
    return struct.pack("!BBH", 0x81, 202, len(chunk) // 4) + chunk


def open_stream(
    sender: RTCRtpSender, codec: Any, sequence_number: int, timestamp_origin: int
) -> RtpStream | None:
    """An :class:`RtpStream` on ``sender``'s connected transports, or None (with the reason
    logged) if aiortc's internals are not what :mod:`~streaming.webrtc.aiortc_boundary`
    expects. The stream closes itself when the DTLS transport ends."""
    try:
        link = sender_link(sender, codec.payloadType)
        cipher = (
            None
            if link.srtp_profile is None or link.srtp_keying is None
            else AeadRtpCipher.for_profile(link.srtp_profile, link.srtp_keying)
        )
        nack = any(feedback.type == "nack" for feedback in codec.rtcpFeedback)
    except Exception as exc:  # any surprise in aiortc's internals: use aiortc's own loop
        log.warning("direct RTP sending unavailable (%s); using aiortc's sender", exc)
        return None
    stream = RtpStream(
        payload_type=codec.payloadType,
        ssrc=link.ssrc,
        header=link.header,
        abs_send_time_at=link.abs_send_time_at,
        cipher=cipher,
        protect=link.protect,
        protect_rtcp=link.protect_rtcp,
        send_rtp=link.send_rtp,
        sock=link.socket,
        address=link.address,
        sequence_number=sequence_number,
        timestamp_origin=timestamp_origin,
        rtx=link.rtx,
        on_counters=partial(update_sender_counters, sender),
        on_report=partial(record_sender_report, sender),
        nack=nack,
        cname=link.cname,
    )
    on_dtls_ended(link.dtls, stream.close)
    return stream
