"""SRTP protection of outgoing RTP with AES-GCM (RFC 7714), on OpenSSL's AES-NI code path.

aiortc protects every packet through libsrtp (pylibsrtp): about 7 µs per 1.2 kB packet here,
mostly buffer copies through cffi and libsrtp's own AES. The same AEAD transform through
``cryptography``'s AESGCM costs under 3 µs, and per viewer and packet that is the largest cost
after ``sendto``. Only RTP is protected here; RTCP and retransmissions keep using aiortc's
libsrtp session (rare packets, a separate SRTCP index, a separate RTX SSRC).

The session key and salt are derived from the DTLS-SRTP master key exactly as libsrtp does
(RFC 3711 §4.3 key derivation, AES-CM PRF, key derivation rate 0), so packets are
byte-identical to libsrtp's; a test checks that against pylibsrtp for every profile.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

#: RFC 3711 §4.3.1 key derivation labels.
LABEL_RTP_ENCRYPTION = 0x00
LABEL_RTP_SALT = 0x02

#: (key length, salt length) of the AEAD profiles, as negotiated by DTLS-SRTP (RFC 7714 §14.2).
AEAD_PROFILES: dict[bytes, tuple[int, int]] = {
    b"SRTP_AEAD_AES_128_GCM": (16, 12),
    b"SRTP_AEAD_AES_256_GCM": (32, 12),
}


def derive(master_key: bytes, master_salt: bytes, label: int, length: int) -> bytes:
    """RFC 3711 §4.3 with kdr 0: AES-CM keystream of ``master_key`` at ``x = label ⊕ salt``.

    libsrtp places the salt in a 14-byte field (a 12-byte AEAD salt is padded with zeros on the
    right) and the label in its eighth octet; the counter block is that field followed by two
    zero octets.
    """
    salt = master_salt.ljust(14, b"\0")
    x = bytearray(salt + b"\0\0")
    x[7] ^= label
    encryptor = Cipher(algorithms.AES(master_key), modes.CTR(bytes(x))).encryptor()
    return encryptor.update(b"\0" * length) + encryptor.finalize()


class AeadRtpCipher:
    """Protects RTP packets of one sending direction with AEAD_AES_{128,256}_GCM.

    ``protect(header, payload, roc, seq, ssrc)`` returns ``header || E(payload) || tag``: the RTP
    header is authenticated (AAD), the payload encrypted, the IV is the session salt XOR
    ``00 00 || SSRC || ROC || SEQ`` (RFC 7714 §8.1). The caller owns the sequence numbers and
    so knows the rollover counter; nothing here keeps per-stream state.
    """

    __slots__ = ("_aead", "_salt", "encrypt")

    #: Length of the authentication tag appended to every packet.
    TAG = 16

    def __init__(self, master_key: bytes, master_salt: bytes) -> None:
        key = derive(master_key, master_salt, LABEL_RTP_ENCRYPTION, len(master_key))
        salt = derive(master_key, master_salt, LABEL_RTP_SALT, 12)
        self._aead = AESGCM(key)
        self._salt = int.from_bytes(salt, "big")
        #: ``encrypt(iv, payload, header)``: the AEAD call itself, for callers that build the
        #: IV inline (the per-packet path of :mod:`streaming.webrtc.rtp.stream`).
        self.encrypt = self._aead.encrypt

    @classmethod
    def for_profile(cls, profile: bytes, key_and_salt: bytes) -> AeadRtpCipher | None:
        """A cipher for a DTLS-SRTP profile name and its ``key || salt``; None if not AEAD."""
        lengths = AEAD_PROFILES.get(profile)
        if lengths is None:
            return None
        key_length, salt_length = lengths
        if len(key_and_salt) != key_length + salt_length:
            raise ValueError("keying material does not fit the profile")
        return cls(key_and_salt[:key_length], key_and_salt[key_length:])

    def iv_base(self, ssrc: int) -> int:
        """The part of the IV that is fixed for one SSRC (salt ⊕ SSRC)."""
        return self._salt ^ (ssrc << 48)

    def protect(self, header: bytes, payload: bytes, iv_base: int, index: int) -> bytes:
        """``header`` (authenticated) + ``payload`` (encrypted) + tag. ``index`` is the 48-bit
        packet index ``ROC << 16 | SEQ``; ``iv_base`` comes from :meth:`iv_base`."""
        iv = (iv_base ^ index).to_bytes(12, "big")
        return header + self._aead.encrypt(iv, payload, header)
