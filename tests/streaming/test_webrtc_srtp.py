"""Knoten's AES-GCM SRTP protection produces exactly libsrtp's packets."""

from __future__ import annotations

import os
import struct

import pytest
from pylibsrtp import Policy, Session

from streaming.webrtc.rtp.srtp import AeadRtpCipher

PROFILES = [
    (b"SRTP_AEAD_AES_128_GCM", Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 16),
    (b"SRTP_AEAD_AES_256_GCM", Policy.SRTP_PROFILE_AEAD_AES_256_GCM, 32),
]


def rtp_header(seq: int, timestamp: int, ssrc: int, *, marker: bool = False) -> bytes:
    # With a one-byte header extension (mid "0" and abs-send-time), as Knoten sends them.
    extension = b"\xbe\xde\x00\x02" + b"\x10\x30" + b"\x32\x01\x02\x03" + b"\x00\x00"
    return (
        struct.pack("!BBHII", 0x90, (0x80 if marker else 0) | 102, seq, timestamp, ssrc) + extension
    )


@pytest.mark.parametrize(("name", "libsrtp_profile", "key_length"), PROFILES)
def test_matches_libsrtp_across_a_sequence_number_wrap(
    name: bytes, libsrtp_profile: int, key_length: int
) -> None:
    keying = os.urandom(key_length + 12)
    reference = Session(
        Policy(key=keying, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=libsrtp_profile)
    )
    cipher = AeadRtpCipher.for_profile(name, keying)
    assert cipher is not None
    ssrc = 0x1234ABCD
    base = cipher.iv_base(ssrc)
    roc = 0
    seq = 65530
    for number in range(12):
        payload = os.urandom(1 + number * 97)
        header = rtp_header(seq, 90_000 + number * 3000, ssrc, marker=number % 3 == 0)
        ours = cipher.protect(header, payload, base, (roc << 16) | seq)
        assert ours == reference.protect(header + payload), f"packet {number}, seq {seq}"
        assert len(ours) == len(header) + len(payload) + 16
        seq = (seq + 1) & 0xFFFF
        if seq == 0:
            roc += 1
    assert roc == 1


def test_only_aead_profiles_get_a_cipher() -> None:
    assert AeadRtpCipher.for_profile(b"SRTP_AES128_CM_SHA1_80", os.urandom(30)) is None
    with pytest.raises(ValueError, match="keying material"):
        AeadRtpCipher.for_profile(b"SRTP_AEAD_AES_128_GCM", os.urandom(30))
