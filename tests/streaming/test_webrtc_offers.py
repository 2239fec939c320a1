"""What viewers' and publishers' offers are taken to ask for: the kinds a WHEP offer receives
(bundle-only sections count, rejected ones do not) and what a WHIP offer must send. Offers are
aiortc's own, rewritten into the shapes other stacks send."""

from __future__ import annotations

import re

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

from streaming.sources import WhipPorts
from streaming.webrtc.errors import InvalidOffer
from streaming.webrtc.sdp import check_offer
from streaming.webrtc.whip import RtpContinuity, check_whip_offer

pytestmark = pytest.mark.timeout(20)


async def offer(*sections: tuple[str, str]) -> str:
    """An aiortc offer with one section per ``(kind, direction)``."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        for kind, direction in sections:
            track = VideoStreamTrack() if kind == "video" else AudioStreamTrack()
            pc.addTransceiver(track if direction != "recvonly" else kind, direction=direction)
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp
    finally:
        await pc.close()


def edit_section(sdp: str, kind: str, edit) -> str:  # type: ignore[no-untyped-def]
    head, *sections = re.split(r"(?=^m=)", sdp, flags=re.M)
    return head + "".join(edit(s) if s.startswith(f"m={kind}") else s for s in sections)


def port_zero(section: str, bundle_only: bool) -> str:
    section = re.sub(r"^(m=\w+) \d+", r"\1 0", section, flags=re.M)
    return section.replace("a=mid:", "a=bundle-only\r\na=mid:", 1) if bundle_only else section


async def test_viewer_offers_receive_what_their_sections_say() -> None:
    both = await offer(("video", "recvonly"), ("audio", "recvonly"))
    assert check_offer(both.encode())[1] == {"video", "audio"}
    bundled = edit_section(both, "audio", lambda s: port_zero(s, bundle_only=True))
    assert check_offer(bundled.encode())[1] == {"video", "audio"}  # GStreamer's shape
    rejected = edit_section(both, "audio", lambda s: port_zero(s, bundle_only=False))
    assert check_offer(rejected.encode())[1] == {"video"}
    video_gone = edit_section(both, "video", lambda s: port_zero(s, bundle_only=False))
    assert check_offer(video_gone.encode())[1] == {"audio"}
    audio_only = await offer(("audio", "recvonly"))
    assert check_offer(audio_only.encode())[1] == {"audio"}
    with pytest.raises(InvalidOffer, match="neither"):
        check_offer(
            edit_section(
                audio_only, "audio", lambda s: s.replace("a=recvonly", "a=sendonly")
            ).encode()
        )
    with pytest.raises(InvalidOffer, match=r"H\.264"):
        check_offer(both.replace("H264", "FOO").encode())


async def test_whip_offers_must_send_h264_and_opus() -> None:
    publisher = await offer(("video", "sendonly"), ("audio", "sendonly"))
    assert check_whip_offer(publisher.encode()) == publisher
    # OBS and GStreamer bundle the second section: still a publisher.
    bundled = edit_section(publisher, "audio", lambda s: port_zero(s, bundle_only=True))
    assert check_whip_offer(bundled.encode()) == bundled
    with pytest.raises(InvalidOffer, match="Opus"):
        check_whip_offer((await offer(("video", "sendonly"))).encode())
    with pytest.raises(InvalidOffer, match=r"H\.264"):
        check_whip_offer((await offer(("audio", "sendonly"))).encode())
    with pytest.raises(InvalidOffer, match=r"H\.264"):
        check_whip_offer(publisher.replace("H264", "FOO").encode())
    viewer = await offer(("video", "recvonly"), ("audio", "recvonly"))
    with pytest.raises(InvalidOffer):
        check_whip_offer(viewer.encode())


def test_whip_ports_and_the_description_ffmpeg_reads() -> None:
    ports = WhipPorts(port_base=20000)
    assert ports.video(1) == ("127.0.0.1", 20000) and ports.audio(1) == ("127.0.0.1", 20002)
    assert ports.video(3) == ("127.0.0.1", 20008)
    sdp = ports.sdp(2)
    assert "m=video 20004 RTP/AVP 96" in sdp and "m=audio 20006 RTP/AVP 111" in sdp
    assert "a=rtpmap:96 H264/90000" in sdp and "a=rtpmap:111 opus/48000/2" in sdp
    assert "c=IN IP4 127.0.0.1" in sdp


def test_rtp_continuity_splices_publishers_into_one_stream() -> None:
    """A second publisher's numbers go on right after the first one's last packet (one step
    later), with its own gaps and order kept, across the 16/32-bit wrap."""
    stream = RtpContinuity(step=3000)
    first = stream.splice()
    assert first(65534, 100) == (65534, 100)  # the first publisher is taken as it is
    assert first(65535, 3100) == (65535, 3100)
    second = stream.splice()
    assert second(1000, 0xFFFFFFF0) == (0, 6100)
    assert second(1002, 0xFFFFFFF0 + 3000 - 2**32) == (2, 9100)  # a lost packet stays a gap
    assert second(1001, 0xFFFFFFF0) == (1, 6100)  # and a late one stays late
