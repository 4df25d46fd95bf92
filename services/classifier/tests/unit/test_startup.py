"""At start-up there is no last good model to keep: an unusable one stops the process, saying why."""

import os

import pytest

from conftest import run_to_refusal


@pytest.mark.parametrize("setting", ["MODEL_PATH", "SHADOW_MODEL_PATH"])
def test_the_service_refuses_to_start_with_a_model_that_does_not_load(tmp_path, setting):
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "model.json").write_text('{"version": "x"}')
    (broken / "model.joblib").write_bytes(b"altered bytes")
    (broken / "model.npz").write_bytes(b"altered bytes")
    env = {
        **os.environ,
        f"SWITCHBOARD_CLASSIFIER_{setting}": str(broken),
        # Nothing listens here: the process must stop before it looks for Kafka.
        "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        "SWITCHBOARD_CLASSIFIER_DATA_DIR": str(tmp_path / "data"),
    }
    done = run_to_refusal("switchboard_classifier", env, timeout=120)
    assert done.returncode != 0
    assert "classifier cannot start" in done.stderr
    assert str(broken) in done.stderr
    role = "live" if setting == "MODEL_PATH" else "shadow"
    assert f"the {role} classifier" in done.stderr
    assert "Traceback" not in done.stderr
