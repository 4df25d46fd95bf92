"""Classification needs no network: every model, rule set and gazetteer ships in the package."""

import json
import os
import subprocess
import sys

from switchboard_cli.demo import demo_mentions

# Loaded by Python at start-up from PYTHONPATH: every way to open a socket or
# resolve a name fails, as on a machine with no network at all.
BLOCK_NETWORK = """
import socket

class NetworkUnavailable(OSError):
    pass

def _refuse(*args, **kwargs):
    raise NetworkUnavailable("network blocked by the test")

class _NoSocket(socket.socket):
    def __init__(self, *args, **kwargs):
        _refuse()

socket.socket = _NoSocket
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
socket.socketpair = _refuse
"""


def _offline_env(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCK_NETWORK)
    path = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


def test_the_network_block_really_blocks(tmp_path):
    probe = subprocess.run(
        [sys.executable, "-c", "import socket; socket.socket()"],
        env=_offline_env(tmp_path),
        capture_output=True,
        text=True,
    )
    assert probe.returncode != 0 and "network blocked by the test" in probe.stderr


def test_classify_works_with_the_network_unavailable(tmp_path):
    feed = demo_mentions(seed=3)
    mentions = [next(feed) for _ in range(50)]
    mentions[7]["text"] = "Shots fired at 5th and Main right now"
    mentions[8]["text"] = "se está quemando la casa de al lado y hay niños"
    mentions[8].pop("language", None)  # detected offline too
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(m) + "\n" for m in mentions))
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from switchboard_cli.main import main; sys.exit(main(sys.argv[1:]))",
            "classify",
            str(source),
        ],
        env=_offline_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    out = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(out) == 50
    assert all(o["versions"]["model"] for o in out)  # the shipped model was loaded
    assert out[7]["urgency"] == "critical"
    assert out[8]["language"] == "es" and out[8]["urgency"] in ("critical", "high")
