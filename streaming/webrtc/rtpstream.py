"""One viewer track's RTP stream, sent synchronously from the fan-out: header, SRTP, ``sendto``.

aiortc's ``RTCRtpSender._run_rtp`` builds an ``RtpPacket`` object per packet, serializes it,
reads a datetime-based NTP clock twice, protects it through libsrtp and passes it down three
coroutine layers to the socket; at ~260 packets a second per viewer that was ~40 µs of event-loop
time per packet. Here a viewer's packet costs one ``struct.pack_into`` on a prebuilt header, one
AES-GCM call (:mod:`streaming.webrtc.srtp`) and one ``sendto`` on the ICE pair's socket, called
straight from the hub while it fans a frame out: no task switch, no queue in between.

aiortc still owns everything else: ICE, DTLS, RTCP (receiver reports, NACK, PLI, sender reports
from the counters this stream keeps up to date) and retransmissions through its libsrtp session.
The attributes of aiortc used here are private; :func:`open_stream` checks each of them and
returns None when one is missing, and the caller then falls back to aiortc's own send loop.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable
from typing import Any

from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtp import RtpPacket

from streaming.webrtc.packets import MediaPacket
from streaming.webrtc.srtp import AeadRtpCipher

log = logging.getLogger(__name__)

#: Packets kept for NACK (aiortc keeps 128 too).
HISTORY = 128
#: A viewer whose socket has this much unsent data lags: it skips to the next keyframe.
WRITE_BUFFER_LIMIT = 256 * 1024
#: Seconds between 1900 (NTP) and 1970 (Unix).
NTP_EPOCH_OFFSET = 2_208_988_800

_PREFIX = "_RTCRtpSender__"
_pack_into = struct.pack_into


def ntp_now() -> int:
    """The 64-bit NTP timestamp of now (what aiortc's ``clock.current_ntp_time`` returns)."""
    return int((time.time() + NTP_EPOCH_OFFSET) * 4294967296)


class RtpStream:
    """The RTP stream of one track of one viewer.

    ``send(packet)`` sends a whole frame (all its payloads, marker on the last) at once and
    returns False when the viewer's socket is backed up (the caller then skips ahead). It
    keeps the last :data:`HISTORY` packets for NACK and the sender-report counters aiortc's
    RTCP loop reads.
    """

    def __init__(
        self,
        *,
        sender: Any,
        payload_type: int,
        ssrc: int,
        header: bytes,
        abs_send_time_at: int | None,
        cipher: AeadRtpCipher | None,
        dtls: Any,
        transport: Any,
        address: tuple[str, int],
        sequence_number: int,
        timestamp_origin: int,
        rtx: tuple[int, int] | None,
    ) -> None:
        self._sender = sender
        self._payload_type = payload_type
        self._ssrc = ssrc
        self._header = bytearray(header)
        self._ast_at = abs_send_time_at
        self._cipher = cipher
        self._iv_base = cipher.iv_base(ssrc) if cipher is not None else 0
        self._dtls = dtls
        self._transport = transport
        self._address = address
        self._sequence = sequence_number
        self._roc = 0
        self._origin = timestamp_origin
        self._rtx = rtx
        self._rtx_sequence = sequence_number ^ 0x5A5A
        self._history: list[tuple[bytes, bytes, int] | None] = [None] * HISTORY
        self.packets = 0
        self.octets = 0
        self.retransmitted = 0
        self.closed = False
        self.on_first: Callable[[], None] | None = None

    @property
    def encryption(self) -> str:
        return "aes-gcm" if self._cipher is not None else "libsrtp"

    def send(self, packet: MediaPacket) -> bool:
        """Send ``packet``'s payloads now; False if the viewer cannot take them."""
        if self.closed or self._dtls._state is not DtlsState.CONNECTED:
            self.closed = True
            return False
        transport = self._transport
        if transport.is_closing() or transport.get_write_buffer_size() > WRITE_BUFFER_LIMIT:
            return False
        ntp = ntp_now()
        header = self._header
        at = self._ast_at
        if at is not None:
            header[at : at + 3] = ((ntp >> 14) & 0xFFFFFF).to_bytes(3, "big")
        timestamp = (self._origin + packet.timestamp) & 0xFFFFFFFF
        payloads = packet.payloads
        last = len(payloads) - 1
        sequence = self._sequence
        roc = self._roc
        history = self._history
        cipher = self._cipher
        address = self._address
        sendto = transport.sendto
        payload_type = self._payload_type
        octets = 0
        for index, payload in enumerate(payloads):
            header[1] = (payload_type | 0x80) if index == last else payload_type
            _pack_into("!HI", header, 2, sequence, timestamp)
            head = bytes(header)
            packet_index = (roc << 16) | sequence
            history[sequence % HISTORY] = (head, payload, packet_index)
            if cipher is not None:
                data = cipher.protect(head, payload, self._iv_base, packet_index)
            else:
                data = self._dtls._tx_srtp.protect(head + payload)
            sendto(data, address)
            octets += len(payload)
            sequence = (sequence + 1) & 0xFFFF
            if sequence == 0:
                roc += 1
        self._sequence = sequence
        self._roc = roc
        self.packets += len(payloads)
        self.octets += octets
        sender = self._sender
        # What aiortc's RTCP loop puts in its sender reports (lip sync relies on them).
        setattr(sender, _PREFIX + "ntp_timestamp", ntp)
        setattr(sender, _PREFIX + "rtp_timestamp", timestamp)
        setattr(sender, _PREFIX + "octet_count", self.octets)
        setattr(sender, _PREFIX + "packet_count", self.packets)
        if self.on_first is not None:
            on_first, self.on_first = self.on_first, None
            on_first()
        return True

    async def retransmit(self, sequence_number: int) -> None:
        """Answer a NACK: resend the packet (as RTX when negotiated) if it is still kept."""
        entry = self._history[sequence_number % HISTORY]
        if entry is None or self.closed:
            return
        head, payload, packet_index = entry
        if (packet_index & 0xFFFF) != sequence_number:
            return
        self.retransmitted += 1
        if self._rtx is None:
            if self._cipher is not None:
                data = self._cipher.protect(head, payload, self._iv_base, packet_index)
            else:
                data = self._dtls._tx_srtp.protect(head + payload)
            self._transport.sendto(data, self._address)
            return
        rtx_payload_type, rtx_ssrc = self._rtx
        rtx = bytearray(head)
        rtx[1] = (rtx[1] & 0x80) | rtx_payload_type
        _pack_into("!H", rtx, 2, self._rtx_sequence)
        _pack_into("!I", rtx, 8, rtx_ssrc)
        self._rtx_sequence = (self._rtx_sequence + 1) & 0xFFFF
        # RFC 4588: the RTX payload starts with the original sequence number.
        await self._dtls._send_rtp(bytes(rtx) + struct.pack("!H", sequence_number) + payload)


def header_template(sender: Any, payload_type: int, ssrc: int) -> tuple[bytes, int | None]:
    """The sender's RTP header with its negotiated extensions (mid, abs-send-time), serialized
    by aiortc itself, and the offset of the 3 abs-send-time bytes (None if not negotiated)."""
    extensions_map = getattr(sender, _PREFIX + "rtp_header_extensions_map")
    template = RtpPacket(payload_type=payload_type, sequence_number=0, timestamp=0, ssrc=ssrc)
    template.extensions.mid = getattr(sender, _PREFIX + "mid")
    template.extensions.abs_send_time = 0
    zeros = template.serialize(extensions_map)
    template.extensions.abs_send_time = 0xFFFFFF
    ones = template.serialize(extensions_map)
    changed = [i for i, (a, b) in enumerate(zip(zeros, ones, strict=True)) if a != b]
    if not changed:
        return zeros, None
    if len(changed) != 3 or changed[2] - changed[0] != 2:
        raise ValueError("unexpected abs-send-time layout")
    return zeros, changed[0]


def open_stream(
    sender: Any, codec: Any, sequence_number: int, timestamp_origin: int
) -> RtpStream | None:
    """An :class:`RtpStream` on ``sender``'s connected transports, or None (with the reason
    logged) if aiortc's internals are not what this module expects."""
    try:
        dtls = sender.transport
        connection = dtls.transport._connection
        pair = connection._nominated.get(1)
        if pair is None or dtls._state is not DtlsState.CONNECTED:
            raise LookupError("transport not connected")
        transport = pair.protocol.transport
        profile = dtls._ssl.get_selected_srtp_profile()
        cipher = None
        for srtp_profile in dtls._srtp_profiles:
            if srtp_profile.openssl_profile == profile:
                view = dtls._ssl.export_keying_material(
                    b"EXTRACTOR-dtls_srtp", 2 * (srtp_profile.key_length + srtp_profile.salt_length)
                )
                key_and_salt = srtp_profile.get_key_and_salt(
                    view, 1 if dtls._role == "server" else 0
                )
                cipher = AeadRtpCipher.for_profile(profile, key_and_salt)
                break
        ssrc = sender._ssrc
        header, abs_send_time_at = header_template(sender, codec.payloadType, ssrc)
        rtx_payload_type = getattr(sender, _PREFIX + "rtx_payload_type")
        rtx = None if rtx_payload_type is None else (rtx_payload_type, sender._rtx_ssrc)
        for name in ("ntp_timestamp", "rtp_timestamp", "octet_count", "packet_count"):
            getattr(sender, _PREFIX + name)
    except Exception as exc:  # any surprise in aiortc's internals: use aiortc's own loop
        log.warning("direct RTP sending unavailable (%s); using aiortc's sender", exc)
        return None
    return RtpStream(
        sender=sender,
        payload_type=codec.payloadType,
        ssrc=ssrc,
        header=header,
        abs_send_time_at=abs_send_time_at,
        cipher=cipher,
        dtls=dtls,
        transport=transport,
        address=pair.remote_addr,
        sequence_number=sequence_number,
        timestamp_origin=timestamp_origin,
        rtx=rtx,
    )
