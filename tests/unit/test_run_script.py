"""`make run`'s script: refusing to start leaves what others run alone."""

import os
import socket
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


# Every port `make run` listens on, by the variable that moves it.
@pytest.mark.parametrize(
    "variable",
    [
        "SWITCHBOARD_INGEST_PORT",
        "SWITCHBOARD_CLASSIFIER_PORT",
        "SWITCHBOARD_ROUTER_PORT",
        "SWITCHBOARD_RESPONDER_PORT",
        "SWITCHBOARD_NOTIFIER_PORT",
        "SWITCHBOARD_STANDIN_PORT",
        "SWITCHBOARD_STANDIN_SMTP_PORT",
    ],
)
def test_a_run_refused_for_a_busy_port_never_stops_a_broker(tmp_path, variable):
    # A second `make run` beside a first one used to stop the first one's Kafka on its way out.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = subprocess.run(
            ["bash", str(REPO / "deploy/local/run.sh")],
            env={
                **os.environ,
                variable: str(port),
                # A port nobody uses: were the broker stopped, kafka.sh would say so.
                "KAFKA_PORT": str(port),
                "KAFKA_DATA_DIR": str(tmp_path / "kafka"),
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert run.returncode == 1
    assert f"port {port} is already in use" in run.stderr
    assert "kafka.sh" not in run.stderr, run.stderr
