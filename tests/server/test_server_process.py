"""How the web server's processes are set up: gunicorn.conf.py's connections per worker, the heap frozen at start."""

import http.client
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
WORKERS = 2


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(port: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("gunicorn did not start")


def test_keep_alive_connections_are_shared_out_between_the_workers():
    """Gunicorn's threaded worker keeps the connections it accepted; uncapped, one worker can take nearly all of a
    burst of keep-alive senders (a webhook provider, a proxy) and leave the other worker's core idle. Capped at
    twice its threads (gunicorn.conf.py), each worker takes its half of sixteen."""
    port = _free_port()
    # The project's gunicorn.conf.py (read from the working folder), serving an app that names its worker.
    server = subprocess.Popen(  # noqa: S603 - our own arguments
        [str(Path(sys.executable).parent / "gunicorn"), "tests.server.process_id_app", "--workers", str(WORKERS),
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    connections = []
    try:
        _wait_for(port, server)
        time.sleep(1)  # both workers booted and listening, not only the first
        connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(16)]
        for connection in connections:
            connection.connect()
        time.sleep(1)  # every connection accepted by a worker before any request ends one
        for connection in connections:
            connection.request("GET", "/")
        served_by = Counter(connection.getresponse().read().decode() for connection in connections)
    finally:
        for connection in connections:
            connection.close()
        server.terminate()
        server.wait(timeout=30)
    assert sorted(served_by.values()) == [8, 8]


def test_the_web_process_freezes_its_loaded_heap_with_the_views_imported():
    """hypervisual.wsgi imports the views (through the URLconf) and freezes what is loaded, so that the garbage
    collector's full passes never walk it again during a request."""
    probe = (
        "import gc, sys\n"
        "import hypervisual.wsgi\n"
        "print(gc.get_freeze_count(), 'dashboard.views' in sys.modules, len(gc.get_objects()))\n"
    )
    output = subprocess.run(  # noqa: S603 - our own arguments
        [sys.executable, "-c", probe], cwd=ROOT, env=os.environ, capture_output=True, text=True, check=True
    ).stdout.split()
    frozen, views_loaded, still_tracked = int(output[0]), output[1], int(output[2])
    assert views_loaded == "True"
    assert frozen > 100_000
    assert still_tracked < frozen / 100
