"""Third-party JavaScript clients for tests: Node scripts and browser bundles from tests/js.

``make test`` installs tests/js/node_modules with ``npm ci`` from the committed lock file;
running pytest alone needs ``make js-test`` once. A missing module fails the test with that
hint instead of skipping it: these clients are the point of the tests that use them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

JS_DIR = Path(__file__).parents[1] / "js"
NODE_MODULES = JS_DIR / "node_modules"


def js_module_file(relative: str) -> Path:
    """A file inside tests/js/node_modules, e.g. ``hls.js/dist/hls.min.js``."""
    path = NODE_MODULES / relative
    assert path.is_file(), f"{path} is missing: run `make js-test` (npm ci in tests/js)"
    return path


def run_node(script: str, stdin: bytes, *, needs: str, timeout: float = 30) -> str:
    """Run ``tests/js/<script>`` under Node with ``stdin``; its stdout (it must exit 0).
    ``needs`` names the npm package the script imports."""
    node = shutil.which("node")
    assert node is not None, "node is missing: Debian package nodejs (make test installs it)"
    assert (NODE_MODULES / needs).is_dir(), f"{needs} is missing: run `make js-test`"
    done = subprocess.run(
        [node, str(JS_DIR / script)], input=stdin, capture_output=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout.decode()
