import json

from switchboard_cli.demo import demo_mentions
from switchboard_cli.main import main
from switchboard_shared.events import MentionIn


def test_demo_mentions_are_valid_and_unique():
    feed = demo_mentions(seed=7)
    mentions = [MentionIn.model_validate(next(feed)) for _ in range(200)]
    assert len({m.mention_id for m in mentions}) == 200
    assert len({m.text for m in mentions}) > 20


def test_classify_writes_one_classification_per_mention(tmp_path, capsys):
    feed = demo_mentions(seed=1)
    lines = [json.dumps(next(feed)) for _ in range(3)]
    lines.insert(
        1,
        json.dumps(
            {
                "source": "x",
                "source_id": "s1",
                "created_at": "2026-11-29T22:00:00Z",
                "text": "Shots fired at 5th and Main right now",
            }
        ),
    )
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert main(["classify", str(path)]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(out) == 4
    assert [list(o) for o in out] == [
        [
            "id",
            "urgency",
            "urgency_score",
            "topics",
            "topic_scores",
            "reasons",
            "language",
            "location",
            "district",
            "versions",
        ]
    ] * 4
    assert out[1]["urgency"] == "critical"
    assert out[1]["id"] == MentionIn.model_validate_json(lines[1]).mention_id
    assert out[1]["language"] == "en"
    assert out[1]["location"] == {
        "text": "5th and Main",
        "how": "intersection",
        "lat": 40.0,
        "lon": -74.975,
        "street": None,  # an intersection is on two streets: none is named
    }
    assert out[1]["district"] == "Harbor"
    assert set(out[1]["versions"]) == {"ruleset", "model"} and all(out[1]["versions"].values())
    fired = [r for r in out[1]["reasons"] if r["rule"] == "topics.active_threat"]
    assert fired and fired[0]["matched"] == ["Shots fired"]
    assert 0.0 <= out[1]["urgency_score"] <= 1.0


def test_classify_output_spells_reasons_and_location_as_the_schema_does():
    # output_record builds plain dicts for speed; they must stay what model_dump gives.
    from switchboard_classifier.combine import Classifier
    from switchboard_classifier.place import Places
    from switchboard_classifier.rules import Ruleset
    from switchboard_cli.classifying import output_record

    mention = MentionIn.model_validate(
        {
            "source": "x",
            "source_id": "s2",
            "created_at": "2026-11-29T22:00:00Z",
            "text": "Shots fired at 5th and Main, no one hurt, this is not a drill!!!",
        }
    )
    classifier = Classifier(ruleset=Ruleset.load(), places=Places.load())
    (c,) = classifier.classify_mentions([mention])
    (d,) = classifier.decide_mentions([mention])
    record = output_record(mention.mention_id, d, {"ruleset": "r", "model": None})
    assert len(c.reasons) >= 2 and c.location is not None
    assert record["reasons"] == [r.model_dump(mode="json") for r in c.reasons]
    assert record["location"] == c.location.model_dump(mode="json")


def test_classify_reports_a_bad_line_by_number_and_field(tmp_path, capsys):
    path = tmp_path / "in.jsonl"
    path.write_text('{"source": "x", "source_id": "1", "created_at": "2026-11-29T22:00:00Z"}\n')
    assert main(["classify", str(path)]) == 2
    assert "line 1: text: Field required" in capsys.readouterr().err


def test_the_pacer_spaces_work_at_the_rate_without_bursting_to_catch_up(monkeypatch):
    from switchboard_cli import main as cli

    clock = {"now": 100.0}
    slept = []
    monkeypatch.setattr(cli.time, "monotonic", lambda: clock["now"])

    def sleep(seconds):
        slept.append(round(seconds, 3))
        clock["now"] += seconds

    monkeypatch.setattr(cli.time, "sleep", sleep)
    pacer = cli._Pacer(10.0)
    for _ in range(3):
        pacer.wait()
    assert slept == [0.1, 0.1]
    clock["now"] += 5  # a stall: the pacer does not then fire a burst to catch up
    pacer.wait()
    pacer.wait()
    assert slept == [0.1, 0.1, 0.1]


def test_new_api_key_prints_the_key_once_and_only_its_hash_for_the_file(capsys):
    import hashlib

    assert main(["new-api-key", "city-app", "app", "sms"]) == 0
    minted = json.loads(capsys.readouterr().out)
    assert minted["key_file_entry"] == {
        "name": "city-app",
        "sha256": hashlib.sha256(minted["key"].encode()).hexdigest(),
        "sources": ["app", "sms"],
    }
    assert main(["new-api-key", "x", "telegraph"]) == 2


def test_the_published_json_schema_file_matches_the_model(capsys):
    from pathlib import Path

    assert main(["schema"]) == 0
    published = Path(__file__).resolve().parents[3] / "shared" / "schemas" / "mention.v1.json"
    assert json.loads(published.read_text()) == json.loads(capsys.readouterr().out)


def test_evaluate_prints_per_label_scores_macro_f1_and_the_confusion_matrix(tmp_path, capsys):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {
                    "text": "Shots fired near the school right now",
                    "urgency": "critical",
                    "topics": ["active_threat"],
                    "hard_negative": False,
                },
                {
                    "text": "this new album is fire",
                    "urgency": "low",
                    "topics": ["irrelevant"],
                    "hard_negative": True,
                },
                {
                    "text": "Loud party next door again",
                    "urgency": "normal",
                    "topics": ["noise_nuisance"],
                    "hard_negative": False,
                },
            ]
        )
        + "\n"
    )
    assert main(["evaluate", "--data", str(gold)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["urgency"]["per_label"]) == {"critical", "high", "normal", "low"}
    assert set(report["urgency"]["per_label"]["critical"]) == {
        "precision",
        "recall",
        "f1",
        "support",
    }
    assert report["urgency"]["confusion_matrix"]["matrix"][0][0] == 1
    assert "macro_f1" in report["urgency"] and "micro_f1" in report["topics"]
    assert report["hard_negatives"] == {"count": 1, "false_critical_or_high": 0, "rate": 0.0}


def test_train_saves_a_model_that_classify_and_evaluate_can_use(tmp_path, capsys):
    from switchboard_classifier.evaluation import gold_path

    out = tmp_path / "model"
    assert main(["train", "--data", str(gold_path("train")), "--out", str(out)]) == 0
    saved = json.loads(capsys.readouterr().out)
    meta = json.loads((out / "model.json").read_text())
    assert meta["version"] == saved["version"] and len(meta["training_data_sha256"]) == 64
    path = tmp_path / "in.jsonl"
    path.write_text(
        json.dumps(
            {
                "source": "x",
                "source_id": "1",
                "created_at": "2026-11-29T22:00:00Z",
                "text": "thank you officers",
            }
        )
        + "\n"
    )
    assert main(["classify", str(path), "--model", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["versions"]["model"] == saved["version"]


def test_classify_reports_every_bad_line_and_still_classifies_the_good_ones(tmp_path, capsys):
    good = {"source": "x", "created_at": "2026-11-29T22:00:00Z", "text": "thanks officers"}
    lines = [
        json.dumps({**good, "source_id": "a"}),
        "not json",
        json.dumps({**good, "source_id": "b"}) + ", " + json.dumps({**good, "source_id": "c"}),
        json.dumps({**good, "source_id": "d", "text": ""}),
        json.dumps({**good, "source_id": "e"}),
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert main(["classify", str(path)]) == 2
    captured = capsys.readouterr()
    ids = [json.loads(line)["id"] for line in captured.out.splitlines()]
    expected = [MentionIn.model_validate_json(lines[i]).mention_id for i in (0, 4)]
    assert ids == expected
    reported = [line.split(":")[0] for line in captured.err.splitlines()]
    assert reported == ["line 2", "line 3", "line 4"]
    assert "line 4: text:" in captured.err


def test_evaluate_cross_validates_with_folds(tmp_path, capsys):
    rows = [
        ("Shots fired near the school right now", "critical", "active_threat"),
        ("someone got shot on main street", "critical", "active_threat"),
        ("thank you officers for your help", "low", "praise"),
        ("great job police department today", "low", "praise"),
        ("my bike was stolen last week", "normal", "property_crime"),
        ("car broken into overnight on oak", "normal", "property_crime"),
    ]
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        "".join(
            json.dumps(
                {"text": f"{t} ({n})", "urgency": u, "topics": [topic], "hard_negative": False}
            )
            + "\n"
            for n in range(3)
            for t, u, topic in rows
        )
    )
    assert main(["evaluate", "--data", str(gold), "--folds", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cross_validation"] == {"folds": 2, "seed": 7}
    assert report["records"] == 18
    assert report["versions"]["model"] == "retrained per fold"
    assert sum(map(sum, report["urgency"]["confusion_matrix"]["matrix"])) == 18


def test_cross_validation_that_cannot_train_says_why(tmp_path, capsys):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        "".join(json.dumps({"text": f"thanks {n}", "urgency": "low"}) + "\n" for n in range(4))
    )
    assert main(["evaluate", "--data", str(gold), "--folds", "2"]) == 2
    assert "cannot cross-validate: training needs records of at least two urgency labels" in (
        capsys.readouterr().err
    )


def test_new_api_key_can_name_the_agency_a_rotated_key_keeps(capsys):
    assert main(["new-api-key", "city-app-2027", "app", "--agency", "city-app"]) == 0
    entry = json.loads(capsys.readouterr().out)["key_file_entry"]
    assert (entry["name"], entry["agency"]) == ("city-app-2027", "city-app")


def _source_records(dataset, rows, copies=3):
    return [
        {
            "text": f"{text} ({dataset} {n})",
            "urgency": urgency,
            **({"topics": [topic]} if topic else {}),
            "hard_negative": urgency == "low" and "fire" in text,
            **({"provenance": {"dataset": dataset}} if dataset != "switchboard-gold" else {}),
        }
        for n in range(copies)
        for text, urgency, topic in rows
    ]


_ROWS = [
    ("Shots fired near the school right now", "critical", "active_threat"),
    ("someone got shot on main street", "critical", None),
    ("thank you officers for your help", "low", "praise"),
    ("this new album is fire", "low", None),
    ("my bike was stolen last week", "normal", "property_crime"),
    ("car broken into overnight on oak", "normal", None),
]


def test_evaluate_prints_rules_model_combined_and_baseline_rows_side_by_side(tmp_path, capsys):
    train_file, test_file = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    train_file.write_text("".join(json.dumps(r) + "\n" for r in _source_records("a", _ROWS)))
    test_file.write_text("".join(json.dumps(r) + "\n" for r in _source_records("b", _ROWS, 1)))
    args = ["evaluate", "--data", str(test_file), "--train", str(train_file), "--baseline"]
    assert main(args) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert list(report["summary"]) == ["rules", "model", "combined", "baseline"]
    for figures in report["summary"].values():
        assert set(figures) >= {"macro_f1", "critical_recall", "actionable_f1", "ece"}
        assert figures["hard_negative_false_alarms"] is not None
    # the top level stays the combined classifier's full report
    assert report["urgency"] == report["rows"]["combined"]["urgency"]
    table = captured.err.splitlines()
    assert [line.split()[0] for line in table[2:]] == ["rules", "model", "combined", "baseline"]


def test_baseline_without_training_data_says_what_it_needs(tmp_path, capsys):
    test_file = tmp_path / "test.jsonl"
    test_file.write_text("".join(json.dumps(r) + "\n" for r in _source_records("b", _ROWS, 1)))
    assert main(["evaluate", "--data", str(test_file), "--baseline"]) == 2
    assert "--baseline needs data to train on" in capsys.readouterr().err


def test_evaluate_by_source_leaves_each_source_out_in_turn(tmp_path, capsys):
    records = (
        _source_records("switchboard-gold", _ROWS)
        + _source_records("crisis-x", _ROWS, 2)
        + [{"text": "power line down on elm", "topics": ["infrastructure"]}]  # no urgency
    )
    data = tmp_path / "corpus.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert main(["evaluate", "--data", str(data), "--by-source", "--baseline"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["by_source"]) == {"switchboard-gold", "crisis-x"}
    assert report["by_source"]["crisis-x"]["records"] == 12
    assert report["by_source"]["switchboard-gold"]["records"] == 19  # provenance missing: gold
    mean = report["summary"]["mean over sources"]
    assert list(mean) == ["rules", "model", "combined", "baseline"]
    expected = (
        report["by_source"]["crisis-x"]["summary"]["model"]["macro_f1"]
        + report["by_source"]["switchboard-gold"]["summary"]["model"]["macro_f1"]
    ) / 2
    assert abs(mean["model"]["macro_f1"] - expected) < 1e-3


def test_by_source_with_one_source_says_why_not(tmp_path, capsys):
    data = tmp_path / "corpus.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _source_records("a", _ROWS)))
    assert main(["evaluate", "--data", str(data), "--by-source"]) == 2
    assert "needs two data sets or more" in capsys.readouterr().err


def test_by_source_measures_the_rules_alone_where_the_other_sources_cannot_train(tmp_path, capsys):
    only_low = [("lol this beat is fire", "low", None), ("good morning everyone", "low", None)]
    records = _source_records("switchboard-gold", _ROWS) + _source_records("chatter", only_low)
    data = tmp_path / "corpus.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert main(["evaluate", "--data", str(data), "--by-source"]) == 0
    report = json.loads(capsys.readouterr().out)
    gold_part = report["by_source"]["switchboard-gold"]
    assert "two urgency labels" in gold_part["not_trained"]
    assert list(gold_part["summary"]) == ["rules"]
    assert list(report["by_source"]["chatter"]["summary"]) == ["rules", "model", "combined"]
    # the mean of a row is over the sources that have it
    chatter_model = report["by_source"]["chatter"]["summary"]["model"]["macro_f1"]
    assert report["summary"]["mean over sources"]["model"]["macro_f1"] == chatter_model
