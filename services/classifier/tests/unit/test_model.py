import json

import numpy as np
import pytest

from switchboard_classifier.model import META_FILE, ModelError, TextModel, train

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


def test_the_shipped_model_is_small_and_versioned():
    model = TextModel.load()
    assert model.version and model.meta["training_data_sha256"]
    assert model.weights.nnz < 2_000_000


def test_a_model_of_another_format_is_refused_with_what_to_do(tmp_path):
    import joblib

    train(RECORDS).save(tmp_path)
    payload = joblib.load(tmp_path / "model.joblib")
    payload["format"] = 1
    joblib.dump(payload, tmp_path / "model.joblib")
    with pytest.raises(ModelError, match=r"format 1.*retrain"):
        TextModel.load(tmp_path)
