"""Which local addresses become ICE host candidates, per peer connection.

aioice gathers host candidates from ``aioice.ice.get_host_addresses()``, a module function that
lists every interface address except loopback and offers no parameter to change that. We wrap
it once (:func:`~streaming.webrtc.aiortc_boundary.replace_host_address_lookup`): inside
:func:`host_addresses_scope` (a context variable, which the gathering tasks inherit from the
``setLocalDescription`` call) it returns the configured addresses; everywhere else it behaves
exactly as before, so other aiortc users in the process are unaffected.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
from collections.abc import Callable, Iterator, Sequence

import ifaddr

from streaming.webrtc.aiortc_boundary import replace_host_address_lookup

_ADDRESSES: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "knoten_ice_host_addresses", default=None
)
_original: Callable[[bool, bool], list[str]] | None = None


def _selected(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    chosen = _ADDRESSES.get()
    if chosen is None:
        assert _original is not None
        return _original(use_ipv4, use_ipv6)
    result = []
    for address in chosen:
        version = ipaddress.ip_address(address).version
        if (version == 4 and use_ipv4) or (version == 6 and use_ipv6):
            result.append(address)
    return result


def install() -> None:
    """Wrap aioice's host-address lookup (idempotent)."""
    global _original
    if _original is None:
        _original = replace_host_address_lookup(_selected)


def resolve_host_addresses(
    addresses: Sequence[str], interfaces: Sequence[str]
) -> tuple[str, ...] | None:
    """The configured host addresses: explicit ones, else those of the named interfaces (loopback
    included when named), else None for aioice's default."""
    if addresses:
        return tuple(addresses)
    if not interfaces:
        return None
    wanted = set(interfaces)
    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        if adapter.nice_name not in wanted and adapter.name not in wanted:
            continue
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                found.append(ip.ip)
            elif ip.ip[2] == 0:  # IPv6 without scope id (link-local needs one; skip it)
                found.append(ip.ip[0])
    return tuple(found)


@contextlib.contextmanager
def host_addresses_scope(addresses: tuple[str, ...] | None) -> Iterator[None]:
    """Gather host candidates from ``addresses`` (None: aioice's default) inside the block."""
    install()
    token = _ADDRESSES.set(addresses)
    try:
        yield
    finally:
        _ADDRESSES.reset(token)
