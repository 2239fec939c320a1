"""URL policy: which URLs may reach FFmpeg, and how they look in logs."""

from __future__ import annotations

import pytest

from streaming.errors import InvalidMediaUrl
from streaming.ffmpeg.urls import (
    LogRedactor,
    mask_url,
    url_secrets,
    validate_input_url,
    validate_push_url,
)

VALID_INPUTS = [
    "rtsp://cam.local:554/Streaming/Channels/101",
    "rtsps://user:pw@10.0.0.7/stream1",
    "rtmp://127.0.0.1:1935/live/key",
    "rtmps://live-api-s.facebook.com:443/rtmp/FB-1-0-AbC",
    "srt://encoder.lan:9000?mode=caller&latency=200",
    "http://10.0.0.9/live/index.m3u8",
    "https://example.org/a%20b.m3u8?token=abc",
    "rtsp://[fe80::1]:554/s",
    "RTSP://Cam.Local/stream",
]

HOSTILE = [
    ("", "empty"),
    ("-f", "start with '-'"),
    ("-i rtmp://h/app/key", "start with '-'"),
    ("file:/etc/passwd", "not allowed"),
    ("file:///etc/passwd", "not allowed"),
    ("concat:a.ts|b.ts", "percent-encoded"),
    ("concat:a.ts", "not allowed"),
    ("pipe:0", "not allowed"),
    ("subfile:,,start,0,end,0,,:/etc/passwd", "not allowed"),
    ("data:text/plain;base64,AAAA", "not allowed"),
    ("tee:[f=flv]rtmp://h/a/k", "not allowed"),
    ("rtmp://h/app/key -y", "whitespace"),
    ("rtmp://h/app/key\n-y", "whitespace"),
    ("rtmp://h/app/key\r", "whitespace"),
    ("rtmp://h/app/k\x00ey", "whitespace or control"),
    ("rtmp://h/app/k\x1bey", "whitespace or control"),
    ("rtmp://h/app/k\u00e9y", "percent-encoded"),
    ("rtmp://h/app/k'ey", "percent-encoded"),
    ("rtmp://h/app/a|file:/etc/passwd", "percent-encoded"),
    ("rtmp:/h/app/key", "rtmp://host"),
    ("rtmp:h/app/key", "rtmp://host"),
    ("rtmp:///app/key", "no host"),
    ("rtmp://:1935/app/key", "no host"),
    ("rtmp://-h/app/key", "invalid host"),
    ("rtmp://h_x/app/key", "invalid host"),
    ("rtmp://h:99999/app/key", "invalid host or port"),
    ("rtmp://h:0/app/key", "port 0"),
    ("srt://h", "needs a port"),
    ("rtsp://[zz::1]/s", "invalid"),
    ("/etc/passwd", "needs a scheme"),
    ("udp://239.0.0.1:1234", "not allowed"),
    ("gopher://h/x", "not allowed"),
    ("rtmp://h/" + "a" * 3000, "longer than"),
]


@pytest.mark.parametrize("url", VALID_INPUTS)
def test_valid_inputs_pass_unchanged(url: str) -> None:
    assert validate_input_url(url) == url


@pytest.mark.parametrize(("url", "message"), HOSTILE)
def test_hostile_inputs_are_refused(url: str, message: str) -> None:
    with pytest.raises(InvalidMediaUrl) as info:
        validate_input_url(url)
    assert message in info.value.message
    assert info.value.field == "input_url"
    assert info.value.code == "invalid_media_url"


@pytest.mark.parametrize(("url", "message"), HOSTILE)
def test_hostile_pushes_are_refused(url: str, message: str) -> None:
    with pytest.raises(InvalidMediaUrl):
        validate_push_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl",
        "rtmps://live-api-s.facebook.com:443/rtmp/FB-1-0-AbC",
        "srt://partner.example:9000?streamid=%23!::r=live/k,m=publish&passphrase=s3cr3tpass",
    ],
)
def test_valid_pushes(url: str) -> None:
    assert validate_push_url(url) == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("rtsp://cam/stream", "not allowed"),
        ("https://example.org/ingest", "not allowed"),
        ("rtmp://host", "application and stream key"),
    ],
)
def test_push_scheme_allow_list(url: str, message: str) -> None:
    with pytest.raises(InvalidMediaUrl, match=message):
        validate_push_url(url, field="partner_url")


def test_error_message_never_repeats_the_url() -> None:
    with pytest.raises(InvalidMediaUrl) as info:
        validate_push_url("rtmp://h/live/SECRETKEY -y")
    assert "SECRETKEY" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("rtmp://127.0.0.1:1935/live/key", "rtmp://127.0.0.1:1935/live/****"),
        ("rtmp://a.rtmp.youtube.com/live2/abcd-efgh", "rtmp://a.rtmp.youtube.com/live2/****"),
        ("rtmps://h:443/rtmp/FB-1/extra", "rtmps://h:443/rtmp/****"),
        ("rtmp://h/live", "rtmp://h/live"),
        ("rtmp://h/live/", "rtmp://h/live/"),
        ("rtmp://h/live?key=abc", "rtmp://h/live?key=****"),
        ("rtsp://admin:hunter2@cam:554/stream1", "rtsp://****@cam:554/stream1"),
        ("RTSP://cam/stream1", "rtsp://cam/stream1"),
        (
            "srt://p:9000?mode=caller&streamid=live/key&passphrase=s3cr3tpass&latency=200",
            "srt://p:9000?mode=caller&streamid=****&passphrase=****&latency=200",
        ),
        ("https://cdn/x.m3u8?token=abc&sig", "https://cdn/x.m3u8?token=****&****"),
        ("srt://p:9000?streamid=#!::r=live/k", "srt://p:9000?streamid=****#****"),
        ("/srv/recordings/a.ts", "/srv/recordings/a.ts"),
        ("file:/etc/passwd", "file:****"),
        ("concat:a|b", "concat:****"),
        ("not a url", "not a url"),
        ("rtmp://h:notaport/live/key", "rtmp://h:notaport/live/****"),
        ("http://[::1/x", "****"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_url_secrets_include_decoded_forms() -> None:
    secrets = url_secrets("srt://p:9000?streamid=live%2Fkey1&mode=caller")
    assert "live%2Fkey1" in secrets
    assert "live/key1" in secrets
    assert "caller" not in secrets


def test_log_redactor_masks_urls_and_bare_keys() -> None:
    argv = ["ffmpeg", "-i", "rtsp://admin:hunter22@cam/s", "-f", "flv", "rtmp://h/live/SECRETKEY"]
    redactor = LogRedactor.from_argv(argv)
    lines = [
        "[rtmp @ 0x1] [error] Server error: stream SECRETKEY is already publishing",
        "Output #0, flv, to 'rtmp://h/live/SECRETKEY':",
        "[tcp @ 0x2] Connection to rtmp://other/app/OTHERKEY failed",
        "[rtsp @ 0x3] 401 for user admin password hunter22",
    ]
    redacted = [redactor.redact(line) for line in lines]
    assert redacted == [
        "[rtmp @ 0x1] [error] Server error: stream **** is already publishing",
        "Output #0, flv, to 'rtmp://h/live/****':",
        "[tcp @ 0x2] Connection to rtmp://other/app/**** failed",
        "[rtsp @ 0x3] 401 for user **** password ****",
    ]
    assert redactor.redact_argv(argv)[-1] == "rtmp://h/live/****"


def test_tee_argument_is_masked_per_slave() -> None:
    arg = "[f=flv:onfail=abort]rtmp://h/live/KEY1|[f=mpegts:onfail=abort]srt://p:9?passphrase=PASSWORD1"
    redactor = LogRedactor.from_argv([arg])
    assert redactor.redact(arg) == (
        "[f=flv:onfail=abort]rtmp://h/live/****|[f=mpegts:onfail=abort]srt://p:9?passphrase=****"
    )
