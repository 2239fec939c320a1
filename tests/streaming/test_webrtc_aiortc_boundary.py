"""The aiortc boundary: the installed aiortc/aioice are the tested ones, every internal the send
path relies on is still there (each probed on its own, so an upgrade names what broke), and no
other module of ``streaming/`` reaches aiortc, aioice or pylibsrtp directly."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

from streaming.webrtc import WebrtcOptions, aiortc_boundary
from streaming.webrtc.aiortc_boundary import (
    INTERNALS,
    SUPPORTED_AIOICE,
    SUPPORTED_AIORTC,
    AiortcUnsupported,
    RTCRtpSender,
    aiortc_problems,
    check_aiortc,
)
from streaming.webrtc.hub import FeedHub
from streaming.webrtc.viewer import Viewer
from tests.support.webrtc_peers import Client, until

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]
BOUNDARY = ROOT / "streaming" / "webrtc" / "aiortc_boundary.py"
WRAPPED = ("aiortc", "aioice", "pylibsrtp")


def test_the_installed_aiortc_fits() -> None:
    check_aiortc.__wrapped__()  # type: ignore[attr-defined]  # not the cached result
    assert aiortc_problems() == []


@pytest.mark.parametrize(("what", "probe"), INTERNALS, ids=[what for what, _ in INTERNALS])
def test_internal(what: str, probe: Callable[[], str | None]) -> None:
    """One aiortc/aioice/pylibsrtp internal the send path uses is as it expects."""
    problem = probe()
    assert problem is None, f"aiortc internal {what!r} broke: {problem}"


def test_a_version_outside_the_tested_range_is_refused_naming_both(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    installed = {"aiortc": "1.17.0", "aioice": "0.13.0"}
    monkeypatch.setattr(aiortc_boundary.metadata, "version", installed.__getitem__)
    with pytest.raises(AiortcUnsupported) as refused:
        check_aiortc.__wrapped__()  # type: ignore[attr-defined]
    assert f"aiortc 1.17.0 is installed; Knoten supports aiortc{SUPPORTED_AIORTC}" in str(
        refused.value
    )
    installed.update(aiortc="1.16.3", aioice="0.14.1")
    assert aiortc_problems() == [
        f"aioice 0.14.1 is installed; Knoten supports aioice{SUPPORTED_AIOICE}"
    ]


def test_a_changed_internal_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    async def _retransmit(self: object, sequence_number: int, rtx: bool) -> None: ...

    monkeypatch.setattr(RTCRtpSender, "_retransmit", _retransmit)
    problems = aiortc_problems()
    assert len(problems) == 1 and problems[0].startswith("sender._retransmit: ")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_only_the_boundary_imports_aiortc_aioice_or_pylibsrtp() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in _imports(path) if name.split(".")[0] in WRAPPED
        )
        for path in sorted((ROOT / "streaming").rglob("*.py"))
        if path != BOUNDARY
    }
    assert {path: names for path, names in offenders.items() if names} == {}
    assert {"aiortc", "aioice.ice", "pylibsrtp"} <= _imports(BOUNDARY)


async def test_a_connected_viewer_sends_directly_until_its_dtls_ends() -> None:
    """The internals at work on a real connection: the direct send path opens (AES-GCM, as
    aiortc negotiates), and the stream closes itself when the peer's DTLS transport ends."""
    hub = FeedHub(1, "Grenze")
    viewer = Viewer("v", hub, WebrtcOptions(), ("127.0.0.1",), lambda _: None)
    client = Client()
    try:
        await client.accept(
            await viewer.answer(await client.offer(), frozenset({"video", "audio"}))
        )
        await until(lambda: all(track.stream is not None for track in viewer.tracks))
        assert {t.kind: t.send_path for t in viewer.tracks} == {
            "video": "direct/aes-gcm",
            "audio": "direct/aes-gcm",
        }
        await client.close()
        await until(lambda: all(track.stream.closed for track in viewer.tracks))  # type: ignore[union-attr]
    finally:
        await client.close()
        await viewer.aclose("test over")
