"""A viewer's RTP stream on a real UDP socket: libsrtp decrypts what it sends, the kernel's
segmentation offload delivers one datagram per RTP packet."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time

import pytest
from aiortc.rtp import RtcpByePacket, RtcpPacket, RtcpSdesPacket, RtcpSrPacket
from pylibsrtp import Policy, Session

from streaming.webrtc.rtp.packets import PAYLOAD_MAX, MediaPacket
from streaming.webrtc.rtp.srtp import AeadRtpCipher
from streaming.webrtc.rtp.stream import RtpStream

SSRC = 0x0BADCAFE
# One-byte extensions as aiortc serializes them: mid "0" (id 1), abs-send-time (id 3).
HEADER = struct.pack("!BBHII", 0x90, 102, 0, 0, SSRC) + b"\xbe\xde\x00\x02\x10\x30\x32\0\0\0\0\0"


@pytest.fixture
def pair():
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(2)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))
    sender.setblocking(False)
    yield sender, receiver
    sender.close()
    receiver.close()


def make_stream(
    sender: socket.socket, address, keying: bytes, libsrtp: Session | None = None, **kwargs
) -> RtpStream:
    """A stream as open_stream makes it; ``libsrtp`` stands in for aiortc's session."""
    return RtpStream(
        payload_type=102,
        ssrc=SSRC,
        header=HEADER,
        abs_send_time_at=17,
        cipher=AeadRtpCipher.for_profile(b"SRTP_AEAD_AES_128_GCM", keying),
        protect=libsrtp.protect if libsrtp else bytes,
        protect_rtcp=libsrtp.protect_rtcp if libsrtp else bytes,
        send_rtp=_no_rtx,
        sock=sender,
        address=address,
        sequence_number=65534,
        timestamp_origin=1000,
        rtx=None,
        **kwargs,
    )


async def _no_rtx(data: bytes) -> None:
    raise AssertionError("no RTX expected")


@pytest.mark.parametrize("gso", [True, False])
def test_frames_arrive_as_decryptable_rtp_packets(pair, gso: bool) -> None:
    sender, receiver = pair
    keying = os.urandom(28)
    stream = make_stream(sender, receiver.getsockname(), keying, gso=gso)
    rx = Session(
        Policy(
            key=keying,
            ssrc_type=Policy.SSRC_ANY_INBOUND,
            srtp_profile=Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
        )
    )
    stap = b"\x18" + b"\x55" * 30
    fragments = [b"\x7c\x85" + bytes([i]) * (PAYLOAD_MAX - 2) for i in range(5)] + [b"\x7c\x45x"]
    key = MediaPacket([stap, *fragments], 3000, is_keyframe=True)
    delta = MediaPacket([b"\x41" + b"\x66" * 200], 6000)
    assert stream.send(key) and stream.send(delta)
    received = [rx.unprotect(receiver.recv(4096)) for _ in range(8)]
    sequence = [struct.unpack("!H", p[2:4])[0] for p in received]
    assert sequence == [65534, 65535, 0, 1, 2, 3, 4, 5]  # wraps: the rollover counter is right
    assert [p[1] & 0x80 for p in received] == [0] * 6 + [0x80, 0x80]  # marker ends each frame
    timestamps = [struct.unpack("!I", p[4:8])[0] for p in received]
    assert timestamps == [4000] * 7 + [7000]
    assert [p[len(HEADER) :] for p in received] == [stap, *fragments, delta.payloads[0]]
    assert received[0][17:20] != b"\0\0\0"  # abs-send-time filled in
    assert stream.packets == 8 and stream.frames == 2 and stream.refused == 0
    stream.close()


def test_a_closed_stream_sends_nothing(pair) -> None:
    sender, receiver = pair
    stream = make_stream(sender, receiver.getsockname(), os.urandom(28))
    stream.close()
    assert stream.closed and not stream.send(MediaPacket([b"x"], 0, is_keyframe=True))


def test_streams_without_nack_keep_no_history(pair) -> None:
    """Audio negotiates no NACK: nothing is kept and a stray NACK resends nothing."""
    sender, receiver = pair
    stream = make_stream(sender, receiver.getsockname(), os.urandom(28), nack=False)
    assert stream.send(MediaPacket([b"\xfc" * 120], 960))
    assert len(receiver.recv(4096)) == len(HEADER) + 120 + 16
    asyncio.run(stream.retransmit(65534))
    assert stream.retransmitted == 0
    receiver.settimeout(0.05)
    with pytest.raises(TimeoutError):
        receiver.recv(4096)
    stream.close()


def test_sender_report_and_bye_as_aiortc_would_send_them(pair) -> None:
    """SR + SDES (CNAME) and BYE: libsrtp decrypts them, aiortc's parser reads the counters,
    the NTP/RTP pair of the last frame and the CNAME; the sender learns what to expect back in
    receiver reports (LSR) for its round-trip time."""
    sender, receiver = pair
    keying = os.urandom(28)
    policy = {"key": keying, "srtp_profile": Policy.SRTP_PROFILE_AEAD_AES_128_GCM}
    reports: list[tuple[int, float]] = []
    stream = make_stream(
        sender,
        receiver.getsockname(),
        keying,
        libsrtp=Session(Policy(ssrc_type=Policy.SSRC_ANY_OUTBOUND, **policy)),
        cname="knoten-test",
        on_report=lambda lsr, at: reports.append((lsr, at)),
    )
    rx = Session(Policy(ssrc_type=Policy.SSRC_ANY_INBOUND, **policy))
    assert not stream.send_report()  # nothing sent yet: nothing to report
    assert stream.send(MediaPacket([b"\x41" + b"\x66" * 300], 9000))
    receiver.recv(4096)
    assert stream.send_report()
    report, sdes = RtcpPacket.parse(rx.unprotect_rtcp(receiver.recv(4096)))
    assert isinstance(report, RtcpSrPacket) and report.ssrc == SSRC
    info = report.sender_info
    assert (info.packet_count, info.octet_count) == (1, 301)
    assert info.rtp_timestamp == 10000  # the frame's timestamp plus the stream's origin
    assert abs(info.ntp_timestamp / 2**32 - 2_208_988_800 - time.time()) < 5
    assert isinstance(sdes, RtcpSdesPacket)
    assert sdes.chunks[0].ssrc == SSRC and sdes.chunks[0].items == [(1, b"knoten-test")]
    assert reports[0][0] == (info.ntp_timestamp >> 16) & 0xFFFFFFFF
    stream.send_bye()
    (bye,) = RtcpPacket.parse(rx.unprotect_rtcp(receiver.recv(4096)))
    assert isinstance(bye, RtcpByePacket) and bye.sources == [SSRC]
    stream.close()


@pytest.mark.parametrize("gso", [True, False])
def test_a_nack_resends_the_same_srtp_packet(pair, gso: bool) -> None:
    """Without RTX a NACKed packet is sent again byte for byte (same header, same IV: AES-GCM
    must never protect other data under an IV), across a sequence-number wrap and for packets
    of frames kept by slice where the history ring wraps; unknown or overwritten numbers are
    not answered."""
    sender, receiver = pair
    stream = make_stream(sender, receiver.getsockname(), os.urandom(28), gso=gso)
    fragments = [b"\x7c\x85" + bytes([i]) * (PAYLOAD_MAX - 2) for i in range(3)] + [b"\x7c\x45z"]
    sent: dict[int, bytes] = {}
    for frame in range(40):  # 160 packets: the ring of 128 wraps, sequence numbers wrap at 2
        assert stream.send(MediaPacket(fragments, 3000 * frame))
        for _ in fragments:
            data = receiver.recv(4096)
            sent[struct.unpack("!H", data[2:4])[0]] = data
    newest = max(sent, key=lambda s: (s - 65534) & 0xFFFF)
    for sequence in (newest, (newest - 5) & 0xFFFF, (newest - 127) & 0xFFFF):
        asyncio.run(stream.retransmit(sequence))
        assert receiver.recv(4096) == sent[sequence]
    for sequence in ((newest - 128) & 0xFFFF, (newest + 1) & 0xFFFF):
        asyncio.run(stream.retransmit(sequence))
    assert stream.retransmitted == 3
    receiver.settimeout(0.05)
    with pytest.raises(TimeoutError):
        receiver.recv(4096)
    stream.close()


def test_a_nack_is_answered_with_rtx(pair) -> None:
    """With RTX negotiated the kept packet goes out on the RTX stream: original header but
    payload type, sequence number and SSRC of RTX, the original sequence number first."""
    sender, receiver = pair
    sent: list[bytes] = []

    async def send_rtp(data: bytes) -> None:
        sent.append(data)

    stream = make_stream(sender, receiver.getsockname(), os.urandom(28))
    stream._rtx = (103, 0x12345678)
    stream._send_rtp = send_rtp
    payload = b"\x41" + b"\x66" * 300
    assert stream.send(MediaPacket([payload], 9000))
    asyncio.run(stream.retransmit(65534))
    (rtx,) = sent
    assert rtx[1] == 0x80 | 103 and struct.unpack("!I", rtx[8:12])[0] == 0x12345678
    assert struct.unpack("!I", rtx[4:8])[0] == 10000  # the original timestamp
    assert rtx[len(HEADER) :] == struct.pack("!H", 65534) + payload
    stream.close()
