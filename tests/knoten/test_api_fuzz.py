"""Schemathesis against the running service: no request the OpenAPI description allows (or
nearly allows) may answer 5xx, and every answer must be one the description lists, in its schema.

The service runs as `knoten serve` on a loopback port with the admin token; Schemathesis runs its
example, coverage, fuzzing and stateful phases for a fixed time budget (150 s; 900 s with
``KNOTEN_FUZZ_LONG=1``, any other with ``KNOTEN_FUZZ_SECONDS``; ``KNOTEN_FUZZ_SEED`` replays a
run). Whatever it finds is kept as a plain
regression test in tests/knoten/test_hostile_input.py, so it stays fixed without the fuzzer.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.support.app_fixtures import TEST_TOKEN, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
LONG = os.environ.get("KNOTEN_FUZZ_LONG") == "1"
BUDGET_S = int(os.environ.get("KNOTEN_FUZZ_SECONDS", 900 if LONG else 150))

#: The checks that make a run fail: server errors, answers the description does not list or
#: describe, and methods it does not declare (405 with a matching Allow). Left out: which
#: requests the API accepts or refuses (the schema cannot say "room 5 exists", and pydantic
#: reads "true" as true, which negative_data_rejection counts as accepting invalid data).
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "unsupported_method",
        "allow_header_conformance",
    ]
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(BUDGET_S + 180)]


def _schemathesis() -> str:
    return str(Path(sys.executable).with_name("st"))


async def test_fuzzing_the_api_finds_no_server_error_and_no_schema_violation(
    service_factory, tmp_path: Path
) -> None:
    service = service_factory(KNOTEN_ADMIN_TOKEN=TEST_TOKEN)
    report = tmp_path / "schemathesis.json"
    seed = os.environ.get("KNOTEN_FUZZ_SEED")
    try:
        await wait_healthy(service)
        argv = [
            _schemathesis(),
            "run",
            f"{service.base_url}/api/v1/openapi.json",
            "--header",
            f"Authorization: Bearer {TEST_TOKEN}",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--checks",
            CHECKS,
            "--max-time",
            str(BUDGET_S),
            "--workers",
            "1",  # the machine has two cores and the service needs one
            "--request-timeout",
            "20",
            "--report",
            "json",
            "--report-json-path",
            str(report),
            *(["--seed", seed] if seed else []),
        ]
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
            cwd=tmp_path,  # Schemathesis keeps its cache in .schemathesis/ there
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "SCHEMATHESIS_HOOKS": "tests.support.fuzz_hooks",  # valid bodies for examples
                "NO_COLOR": "1",
                "SCHEMATHESIS_TELEMETRY": "false",
            },
        )
        output, _ = await asyncio.wait_for(process.communicate(), BUDGET_S + 120)
        text = output.decode(errors="replace")
    finally:
        # SIGTERM, not the factory's SIGKILL: the service stops its FFmpeg and viewer workers.
        if service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(service.process.wait, 30)

    result = json.loads(report.read_text())
    cases = result["test_cases"]
    summary = (
        f"{cases['generated']} cases in {result['running_time']:.0f} s over "
        f"{result['operations']['tested']} operations, seed {result['seed']}"
    )
    print(f"schemathesis: {summary}; failures {result['failures']}")
    assert result["errors"] == [], f"{summary}\n{text[-6000:]}"
    assert result["failures"] == [], f"{summary}\n{text[-6000:]}"
    assert cases["with_failures"] == 0
    assert result["operations"]["tested"] == result["operations"]["total"]
    assert cases["generated"] >= min(1000, BUDGET_S * 5), summary
    # 500s are logged with their traceback by the error middleware; none may appear.
    assert "unhandled error" not in service.log()
