"""`switchboard feedback` and `train --feedback` on an export of the router's store."""

import json

from switchboard_classifier.feedback import merge, records_sha256
from switchboard_classifier.model import TextModel
from switchboard_cli.main import main

CORPUS = [
    {"text": "house on fire on Birch St", "urgency": "critical", "topics": ["fire"]},
    {"text": "shots fired near the school", "urgency": "critical", "topics": ["active_threat"]},
    {"text": "this beat is fire", "urgency": "high", "topics": ["fire"]},
    {"text": "the streetlight is out again", "urgency": "normal", "topics": ["infrastructure"]},
    {"text": "thank you officers", "urgency": "low", "topics": ["praise"]},
    {"text": "lovely day at the park", "urgency": "low", "topics": ["irrelevant"]},
]


def item(n: int, text: str, urgency: str, disposition: str | None, **extra) -> dict:
    """One line of the export: an item as `GET /v1/items/{id}` shows it."""
    return {
        "item_id": n,
        "mention_id": f"m-{n}",
        "urgency": urgency,
        "topics": ["fire"],
        "text": text,
        "disposition": disposition,
        "resolved_at": "2026-12-01T12:00:00+00:00" if disposition else None,
        "ruleset_version": "r1",
        "mention": {"language": "en"},
        "audit": [],
        **extra,
    }


def write_export(tmp_path):
    export = tmp_path / "items.jsonl"
    rows = [
        item(1, "THIS beat is   fire", "high", "false_alarm"),  # the corpus text, judged
        item(2, "the mixtape is fire", "high", "false_alarm"),
        item(3, "smoke from the bakery roof", "critical", "actioned"),
        item(4, "road works on the bypass", "normal", "referred"),  # says nothing of urgency
        item(5, "still open, nobody looked", "normal", None),  # no verdict yet
    ]
    export.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return export


def test_feedback_prints_the_labelled_records_of_an_export(tmp_path, capsys):
    assert main(["feedback", str(write_export(tmp_path))]) == 0
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["provenance"]["record_id"], r["urgency"]) for r in records] == [
        ("m-1", "low"),
        ("m-2", "low"),
        ("m-3", "critical"),
    ]
    assert {r["provenance"]["repository"] for r in records} == {"router-export:items.jsonl"}
    assert json.loads(err) == {"records": 3, "skipped": {"no_label": 1}}
    assert "fire" not in err  # counts only: no mention text on stderr


def test_train_with_feedback_merges_it_with_the_corpus_and_records_the_hash(tmp_path, capsys):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in CORPUS))
    export = write_export(tmp_path)

    code = main(
        ["train", "--data", str(corpus), "--feedback", str(export), "--out", str(tmp_path / "m")]
    )

    assert code == 0
    out, err = capsys.readouterr()
    summary = json.loads(err.splitlines()[0])
    assert summary == {
        "corpus": 6,
        "feedback": 3,
        "replaced": 1,
        "skipped": {"no_label": 1},
        "training": 8,
    }
    model = TextModel.load(tmp_path / "m")
    assert json.loads(out)["version"] == model.version
    assert model.meta["training_records"] == 8
    main(["feedback", str(export)])
    feedback = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    merged, _ = merge(CORPUS, feedback)
    assert model.meta["training_data_sha256"] == records_sha256(merged)


def test_a_missing_export_is_an_error_naming_the_file_not_a_kafka_address(tmp_path, capsys):
    missing = tmp_path / "items.jsonl"
    assert main(["feedback", str(missing)]) == 2
    assert f"No such file or directory: '{missing}'" in capsys.readouterr().err
