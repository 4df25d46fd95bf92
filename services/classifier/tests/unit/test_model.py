import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from switchboard_classifier.model import META_FILE, MODEL_FILE, ModelError, TextModel, train

RECORDS = [
    {"text": "shots fired near the school", "urgency": "critical", "topics": ["active_threat"]},
    {"text": "someone got shot on main street", "urgency": "critical", "topics": ["active_threat"]},
    {"text": "my bike was stolen last week", "urgency": "normal", "topics": ["property_crime"]},
    {"text": "car broken into overnight", "urgency": "normal", "topics": ["property_crime"]},
    {"text": "thank you officers", "urgency": "low", "topics": ["praise"]},
    {"text": "great job police department", "urgency": "low", "topics": ["praise"]},
]


def test_a_model_learns_saves_and_loads_with_its_metadata(tmp_path):
    model = train(RECORDS, data_hash="ab" * 32)
    model.save(tmp_path)
    loaded = TextModel.load(tmp_path)
    meta = json.loads((tmp_path / META_FILE).read_text())
    assert meta["training_data_sha256"] == "ab" * 32
    assert meta["version"] == loaded.version and loaded.version.endswith("abababab")
    assert meta["topic_labels"] == ["active_threat", "praise", "property_crime"]
    texts = ["shots fired by the school", "thank you police"]
    before, after = model.predict(texts), loaded.predict(texts)
    assert np.allclose(before.urgency, after.urgency, atol=1e-5)
    assert before.urgency[0].argmax() == 0  # critical
    assert after.topics[1][loaded.topic_labels.index("praise")] > 0.5


def test_a_directory_without_a_model_is_refused(tmp_path):
    with pytest.raises(ModelError):
        TextModel.load(tmp_path)


def test_the_shipped_model_is_small_versioned_and_free_of_pickle():
    model = TextModel.load()
    assert model.version and model.meta["training_data_sha256"]
    assert model.meta["weights_sha256"] and model.meta["weights_file"] == MODEL_FILE
    assert model.n_weights < 20_000_000


def test_a_model_of_another_format_is_refused_with_what_to_do(tmp_path):
    train(RECORDS).save(tmp_path)
    meta = json.loads((tmp_path / META_FILE).read_text())
    meta["format"] = 2  # the joblib pickle of before
    (tmp_path / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=r"format 2.*retrain"):
        TextModel.load(tmp_path)


def test_a_tampered_weights_file_is_refused_naming_the_file_and_its_hash(tmp_path):
    train(RECORDS).save(tmp_path)
    weights = tmp_path / MODEL_FILE
    arrays = dict(np.load(weights))
    arrays["bias"] = arrays["bias"] + 5.0  # a different model, still a valid npz
    np.savez(weights, **arrays)
    actual = hashlib.sha256(weights.read_bytes()).hexdigest()
    with pytest.raises(ModelError) as refused:
        TextModel.load(tmp_path)
    assert str(weights) in str(refused.value) and actual in str(refused.value)


def test_a_tampered_hash_in_the_metadata_is_refused(tmp_path):
    train(RECORDS).save(tmp_path)
    meta = json.loads((tmp_path / META_FILE).read_text())
    meta["weights_sha256"] = "0" * 64
    (tmp_path / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="0" * 64):
        TextModel.load(tmp_path)


class _Payload:
    ran = False

    def __reduce__(self):
        return (_mark_ran, ())


def _mark_ran():
    _Payload.ran = True
    return "ran"


def test_a_weights_file_that_carries_a_pickle_is_refused_without_running_it(tmp_path):
    train(RECORDS).save(tmp_path)
    weights = tmp_path / MODEL_FILE
    arrays = dict(np.load(weights))
    arrays["bias"] = np.array([_Payload()], dtype=object)
    np.savez(weights, **arrays)  # an object array: stored as a pickle
    # the attacker also rewrote the hash, so only the no-pickle rule stands in the way
    meta = json.loads((tmp_path / META_FILE).read_text())
    meta["weights_sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    (tmp_path / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="not a plain weights file"):
        TextModel.load(tmp_path)
    assert not _Payload.ran


def test_loading_a_model_does_not_import_joblib_or_pickle_loaders(tmp_path):
    train(RECORDS).save(tmp_path)
    code = (
        "import sys; from pathlib import Path;"
        "from switchboard_classifier.model import TextModel;"
        f"TextModel.load(Path({str(tmp_path)!r})); print('joblib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
