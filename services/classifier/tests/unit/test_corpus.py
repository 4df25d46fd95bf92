"""The committed training corpus and the build that makes it.

The corpus must carry full provenance, the current mapping version, nothing the reserved filter matches, only
sources whose licence allows committing text, and nothing of the gold test split; the manifest must describe
exactly the committed file. The build's mapping rules are checked on small inputs, and a tiny fetched
repository shows that a reserved event's files are never opened.
"""

import hashlib
import importlib.util
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from switchboard_classifier.evaluation import gold
from switchboard_classifier.reserved import is_reserved_record

CORPUS_DIR = Path(__file__).resolve().parents[2] / "corpus"
MAPPING = yaml.safe_load((CORPUS_DIR / "mapping.yaml").read_text(encoding="utf-8"))
PROVENANCE_FIELDS = ("dataset", "repository", "commit", "record_id", "licence", "mapping_version")
URGENCIES = {"critical", "high", "normal", "low"}
TOPICS = {
    "active_threat", "medical", "fire", "traffic", "violent_crime", "property_crime", "suspicious_activity",
    "hazard_weather", "missing_person", "infrastructure", "noise_nuisance", "officer_conduct",
    "information_request", "public_safety_info", "praise", "community_support", "irrelevant",
}  # fmt: skip


def _load_build():
    spec = importlib.util.spec_from_file_location("corpus_build", CORPUS_DIR / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["corpus_build"] = module
    spec.loader.exec_module(module)
    return module


build = _load_build()


@pytest.fixture(scope="module")
def corpus():
    lines = (CORPUS_DIR / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def manifest():
    return json.loads((CORPUS_DIR / "manifest.json").read_text(encoding="utf-8"))


def test_every_committed_record_has_full_provenance_and_the_current_mapping_version(corpus):
    assert len(corpus) > 1000
    for record in corpus:
        provenance = record["provenance"]
        assert all(
            isinstance(provenance.get(f), str) and provenance[f] for f in PROVENANCE_FIELDS
        ), record
        assert provenance["mapping_version"] == MAPPING["mapping_version"]
        assert record["text"].strip() and record["lang"]
        assert record["urgency"] in URGENCIES
        assert set(record["topics"]) <= TOPICS and isinstance(record["hard_negative"], bool)
    ids = [(r["provenance"]["dataset"], r["provenance"]["record_id"]) for r in corpus]
    assert len(ids) == len(set(ids))


def test_no_committed_record_matches_the_reserved_filter(corpus):
    assert [r["provenance"]["record_id"] for r in corpus if is_reserved_record(r)] == []


def test_the_committed_corpus_holds_only_sources_whose_licence_allows_the_text(corpus):
    committable = {s["dataset"] for s in MAPPING["sources"].values() if s["committable"]}
    datasets = Counter(r["provenance"]["dataset"] for r in corpus)
    assert set(datasets) <= committable


def test_the_committed_gold_records_are_the_current_gold_training_split(corpus):
    committed = [
        (r["text"], r["urgency"], r["topics"])
        for r in corpus
        if r["provenance"]["dataset"] == "switchboard-gold"
    ]
    current = [(r["text"], r["urgency"], r["topics"]) for r in gold("train")]
    assert sorted(committed) == sorted(current), (
        "gold_train.jsonl changed: rebuild the corpus with build.py"
    )


def test_the_gold_test_split_never_enters_the_corpus(corpus):
    guarded = {build.dedup_key(r["text"]) for r in gold("test")}
    assert [r["text"] for r in corpus if build.dedup_key(r["text"]) in guarded] == []


def test_the_manifest_describes_exactly_the_committed_file(corpus, manifest):
    data = (CORPUS_DIR / "corpus.jsonl").read_bytes()
    assert manifest["corpus"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["corpus"]["records"] == len(corpus)
    assert manifest["mapping_version"] == MAPPING["mapping_version"]
    for name, source in manifest["sources"].items():
        assert source["commit"], name
        assert source["kept"] == len(source["record_ids"])
        if source["text_committed"]:
            committed = sorted(
                r["provenance"]["record_id"]
                for r in corpus
                if r["provenance"]["dataset"] == source["dataset"]
            )
            assert committed == sorted(source["record_ids"]), name


def test_every_mapped_source_pins_a_commit_and_a_licence():
    for name, source in MAPPING["sources"].items():
        assert source["licence"], name
        if name != "gold":
            assert len(source["commit"]) == 40, name
            for label, rule in source["labels"].items():
                if rule != "drop":
                    assert rule["urgency"] in URGENCIES, (name, label)
                    assert rule.get("why"), (name, label)


@pytest.fixture(scope="module")
def cues():
    return build.Cues(MAPPING)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("my family is stranded on the terrace with two kids, water rising", "en"),
        ("we are trapped on the roof of the school, please send a boat", "en"),
        ("estamos atrapados en el segundo piso, no podemos salir", "es"),
    ],
)
def test_a_first_hand_call_for_help_is_raised(cues, text, lang):
    assert cues.first_hand(text, lang)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("I just saw that the flood has killed thousands, my heart breaks", "en"),
        ("We need all your help, please donate to the relief fund", "en"),
        ("RT @user: we are trapped on the roof", "en"),
        ("Officials say 40 people are trapped in the rubble", "en"),
        ("my family is stranded https://t.co/abc", "en"),
        ("Estamos en oración por los heridos, fuerza Chile", "es"),
    ],
)
def test_commentary_appeals_and_relayed_posts_are_not_raised(cues, text, lang):
    assert not cues.first_hand(text, lang)


def _humaid_rule_source():
    return MAPPING["sources"]["humaid"] | {"commit": "0" * 40}


def test_a_relayed_toll_stays_normal_and_a_first_hand_report_is_high(cues):
    source = _humaid_rule_source()
    relayed = build.RawRecord(
        "e/1", "Cyclone kills at least 400 people", "injured_or_dead_people", "en", "e", "fire"
    )
    first_hand = build.RawRecord(
        "e/2",
        "my brother is injured and trapped under the wall",
        "injured_or_dead_people",
        "en",
        "e",
        "fire",
    )
    (low, high) = (build.map_record(r, source, cues, "v") for r in (relayed, first_hand))
    assert low["urgency"] == "normal" and high["urgency"] == "high"
    assert low["topics"] == ["medical", "fire"]
    assert low["provenance"]["record_id"] == "e/1" and low["provenance"]["event"] == "e"
    sympathy = build.RawRecord(
        "e/3", "Praying for everyone", "sympathy_and_support", "en", "e", "fire"
    )
    assert build.map_record(sympathy, source, cues, "v")["urgency"] == "low"
    unjudged = build.RawRecord("e/4", "hmm", "dont_know_cant_judge", "en", "e", "fire")
    assert build.map_record(unjudged, source, cues, "v") is None


def test_chatter_with_violent_words_is_a_hard_negative_and_plain_chatter_is_not(cues):
    source = MAPPING["sources"]["davidson_hate_offensive"]
    violent = build.RawRecord("row1", "this beat is fire, killing it", "2", "en")
    plain = build.RawRecord("row2", "lunch was great today", "2", "en")
    assert build.map_record(violent, source, cues, "v")["hard_negative"] is True
    assert build.map_record(plain, source, cues, "v")["hard_negative"] is False


def test_a_keyword_search_hit_that_is_no_disaster_is_a_hard_negative(cues):
    source = MAPPING["sources"]["disaster_tweets"]
    figurative = build.RawRecord("1", "these shoes are fire", "0", "en", keyword="ablaze")
    real = build.RawRecord(
        "2", "Forest fire near the highway, road closed", "1", "en", keyword="forest%20fire"
    )
    assert build.map_record(figurative, source, cues, "v")["hard_negative"] is True
    mapped = build.map_record(real, source, cues, "v")
    assert (mapped["urgency"], mapped["topics"], mapped["hard_negative"]) == (
        "normal",
        ["fire"],
        False,
    )


def test_handles_are_masked_and_duplicates_share_a_key():
    assert build.clean_text("RT @someone: fire &amp; smoke") == "RT @user: fire & smoke"
    assert build.dedup_key("RT @a: Fire on Main St http://t.co/x") == build.dedup_key(
        "fire on main st"
    )


def _record(record_id, urgency, lang="en"):
    return {"lang": lang, "urgency": urgency, "provenance": {"record_id": record_id}}


def test_the_cap_keeps_urgent_records_first_but_bounded_and_is_the_same_on_every_build():
    records = [_record(f"u{i}", "high") for i in range(50)] + [
        _record(f"n{i}", "low") for i in range(500)
    ]
    kept, capped = build.cap_records(records, cap=100, urgent_share_max=0.2)
    assert len(kept) == 100 and capped == 450
    assert sum(r["urgency"] == "high" for r in kept) == 20
    again, _ = build.cap_records(list(reversed(records)), cap=100, urgent_share_max=0.2)
    assert {r["provenance"]["record_id"] for r in kept} == {
        r["provenance"]["record_id"] for r in again
    }


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_the_build_never_opens_a_reserved_event_and_drops_reserved_text(tmp_path, cues):
    repo = tmp_path / "humaid"
    event_dir = repo / "Dataset/HumAID/hurricane_irma_2017"
    event_dir.mkdir(parents=True)
    rows = [
        "tweet_id\ttweet_text\tclass_label",
        "1\tTrees down across the road in Naples\tinfrastructure_and_utility_damage",
        "2\tIrma is nothing like #HurricaneFlorence\tother_relevant_information",
        "3\tTrees down across the road in Naples!\tinfrastructure_and_utility_damage",
    ]
    (event_dir / "hurricane_irma_2017_train.tsv").write_text(
        "\n".join(rows) + "\n", encoding="utf-8"
    )
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "data")
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    # canada_wildfires_2016 is listed but has no file: reading it would fail, so the build must skip it unread.
    source = MAPPING["sources"]["humaid"] | {
        "commit": commit,
        "splits": ["train"],
        "events": {"hurricane_irma_2017": "hazard_weather", "canada_wildfires_2016": "fire"},
    }
    report = build.build_source("humaid", source, repo / ".git", cues, MAPPING, set())
    assert report.read == 3
    assert "canada_wildfires_2016" in report.events_never_read
    assert report.dropped_reserved == {"hurricane_florence_2018": 1}
    assert report.duplicates == 1
    assert [r["provenance"]["record_id"] for r in report.kept] == ["hurricane_irma_2017/1"]
    assert report.kept[0]["provenance"]["commit"] == commit


def test_the_build_refuses_a_repository_without_the_pinned_commit(tmp_path, cues):
    repo = tmp_path / "empty"
    repo.mkdir()
    _git(repo, "init", "-q")
    with pytest.raises(SystemExit, match="has no commit"):
        build.check_commit(repo / ".git", "1" * 40)
