"""A date another node runs, seen from this node (no media; the working hand-over is in
tests/faults/test_failover.py): the join page calls it live, a WHEP offer is passed on to the
node named in the lease, and when that node does not answer the participant gets a JSON 503
``node_unreachable`` with Retry-After instead of a hang or a 500; a request already passed on
once is never passed on again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sqlalchemy import update

from knoten.api.node_forward import FORWARDED
from knoten.keys import DATABASE, LEASES
from schedules.lease_store import live_leases
from schedules.ports import LoggingSessionRunner
from tests.knoten.test_whep import create_live_occurrence, post_offer, token_of
from tests.support.app_fixtures import admin_session, make_config, serve
from tests.support.ports import free_tcp_port
from tests.support.webrtc_peers import Client

pytestmark = pytest.mark.timeout(60)


async def test_a_date_on_another_node_is_live_here_and_its_offers_go_there(tmp_path) -> None:
    closed_port = free_tcp_port()  # nobody listens: the other node is gone
    config = make_config(tmp_path / "data", free_tcp_port(), KNOTEN_NODE_ID="node-a")
    async with (
        serve(config, session_runner=LoggingSessionRunner()) as running,
        admin_session(running) as admin,
        aiohttp.ClientSession() as http,
    ):
        date = await create_live_occurrence(admin)
        oid, token = date["id"], token_of(date)
        assert running.app[LEASES].holds(oid), "this node started it: its lease"
        # Node B took the date over (as after a fence); its lease runs for a minute.
        async with running.app[DATABASE].engine.begin() as conn:
            await conn.execute(
                update(live_leases)
                .where(live_leases.c.occurrence_id == oid)
                .values(
                    node_id="node-b",
                    node_url=f"http://127.0.0.1:{closed_port}",
                    expires_at=datetime.now(UTC) + timedelta(minutes=1),
                )
            )
        async with http.get(running.url(f"/join/{oid}/state"), params={"t": token}) as response:
            state = await response.json()
        async with admin.get(f"/api/v1/occurrences/{oid}") as response:
            seen = await response.json()
        peer = Client()
        try:
            offer = await peer.offer()
            url = running.url(f"/whep/{oid}")
            status, headers, body = await post_offer(http, url, token, offer)
            again = await post_offer(http, url, token, offer, **{FORWARDED: "1"})
        finally:
            await peer.close()
    assert state["state"] == "live", state
    assert seen["node"] == {"id": "node-b", "url": f"http://127.0.0.1:{closed_port}",
                            "this_node": False}  # fmt: skip
    assert status == 503 and headers["Retry-After"] == "2", (status, body)
    assert b'"node_unreachable"' in body
    # Passed on once already: answered here (not live here), never sent on again.
    assert again[0] == 409 and b'"not_live"' in again[2], again
