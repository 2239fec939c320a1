"""The per-packet send path: a frame packetized once for every viewer
(:mod:`~streaming.webrtc.rtp.packets`), each viewer's RTP stream
(:mod:`~streaming.webrtc.rtp.stream`: header, SRTP, the send call) and its AES-GCM SRTP
(:mod:`~streaming.webrtc.rtp.srtp`). Everything here runs once per frame or packet and
viewer, so it is written for the interpreter; what it needs of aiortc it takes once per
stream, through :mod:`streaming.webrtc.aiortc_boundary`.
"""
