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
    assert out[1]["classification"]["urgency"] == "critical"
    assert out[1]["mention_id"] == MentionIn.model_validate_json(lines[1]).mention_id


def test_classify_reports_a_bad_line_by_number_and_field(tmp_path, capsys):
    path = tmp_path / "in.jsonl"
    path.write_text('{"source": "x", "source_id": "1", "created_at": "2026-11-29T22:00:00Z"}\n')
    assert main(["classify", str(path)]) == 2
    assert "line 1: text: Field required" in capsys.readouterr().err
