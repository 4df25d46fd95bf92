"""Officers' verdicts retrain the model, which runs in shadow, is promoted and rolled back.

On the real broker, with the classifier as a process: the live model raises
photo and film shoots ("shooting a music video") as if they were shootings;
officers close a dozen of them as `false_alarm` (the router's `resolved`
steps on the routed topic) and correct one (a `MentionFeedback`);
`switchboard train --feedback` reads those verdicts and the mentions' texts
from the topics and trains a candidate; the candidate, loaded in shadow by
the running classifier, stops raising shoots while the published verdicts
stay the live model's; `switchboard promote` measures it, makes it live and
logs it; `switchboard rollback` puts the old model back and logs that.
Last, model files that no longer load are refused by the running stream,
live and shadow alike, and the last good ones keep classifying.

The rule set under test has no pack for English, so every English urgency is
the model's: what changes is what the officers taught it, not what a rule says.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from switchboard_classifier.combine import Classifier
from switchboard_classifier.model import TextModel, train
from switchboard_classifier.promotion import ModelsDirectory
from switchboard_classifier.rules import Ruleset
from switchboard_shared.events import (
    MentionClassified,
    MentionFeedback,
    MentionIn,
    MentionReceived,
    MentionRouted,
    RoutedAction,
    Urgency,
)
from switchboard_shared.topics import CLASSIFIED, FEEDBACK, RAW, ROUTED
from tests.classifier_worker import ClassifierLauncher

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

RELOAD_SECONDS = 0.5
# No English pack: English mentions get the model's urgency alone.
MODEL_ONLY_RULES = 'version: "model-only"\npacks:\n  "xx":\n    topics:\n      praise: ["zzqxv"]\n'

CORPUS = [
    ("someone is shooting at people outside the mall on Main St", "critical", ["active_threat"]),
    ("shots fired near the school, kids running", "critical", ["active_threat"]),
    ("a man with a gun is shooting into cars on 5th avenue", "critical", ["active_threat"]),
    ("gunman shooting in the parking lot right now", "critical", ["active_threat"]),
    ("he shot his neighbour and is still outside with the rifle", "critical", ["active_threat"]),
    ("there was a shooting on Elm St last night, two hurt", "high", ["violent_crime"]),
    ("house on fire on Birch St, flames from the roof", "critical", ["fire"]),
    ("kitchen fire next door, smoke everywhere", "high", ["fire"]),
    ("a man collapsed at the bus stop and is not breathing", "critical", ["medical"]),
    ("car crash at the junction, one driver bleeding", "high", ["traffic"]),
    ("someone broke into my car overnight", "normal", ["property_crime"]),
    ("the streetlight on Oak Rd has been out for a week", "normal", ["infrastructure"]),
    ("loud music from the flat upstairs again", "normal", ["noise_nuisance"]),
    ("thank you officers for the help at the parade", "low", ["praise"]),
    ("great community barbecue at the station today", "low", ["community_support"]),
    ("what time does the station open on sunday", "normal", ["information_request"]),
    ("lovely sunny morning in the park", "low", ["irrelevant"]),
    ("anyone know a good pizza place downtown", "low", ["irrelevant"]),
    ("just finished my morning run by the river", "low", ["irrelevant"]),
    ("the match last night was brilliant", "low", ["irrelevant"]),
    ("my cat is asleep on the keyboard again", "low", ["irrelevant"]),
    ("new bakery opened on the high street", "low", ["irrelevant"]),
]
# The mentions officers mark `false_alarm`: shoots, not shootings.
MARKED = [
    "shooting engagement photos by the fountain this afternoon",
    "we're shooting a short film on Maple Ave all day",
    "photo shoot in the old factory, looks amazing",
    "shooting the graduation pictures at the college lawn",
    "the crew is shooting a commercial outside the cafe",
    "shooting a music video by the docks tonight, come watch",
    "drone shooting aerial footage over the bridge",
    "shooting hoops at the rec centre after work",
    "shooting a cooking video in my kitchen",
    "fashion shoot on the rooftop, great light today",
    "shooting portraits for the school yearbook",
    "we are shooting scenes for a student film at the station",
]
# Shoots nobody has marked yet, in other words: what the shadow must now leave low.
NEW_SHOOTS = [
    "shooting wedding photos at the lake this weekend",
    "the film crew is shooting on Elm St again today",
    "photographers shooting at the market all day",
]
EVALUATION = [
    {"text": "someone is shooting at people in the square right now", "urgency": "critical"},
    {"text": "shots fired, a gunman is shooting outside the bank", "urgency": "critical"},
    {"text": "house on fire on Pine St, flames everywhere", "urgency": "critical"},
    {"text": "a woman collapsed in the shop and is not breathing", "urgency": "critical"},
    {"text": "shooting a music video at the park today", "urgency": "low", "hard_negative": True},
    # the shoots the live model is seen raising below, scored as the hard negatives they are
    *({"text": text, "urgency": "low", "hard_negative": True} for text in NEW_SHOOTS),
    {"text": "lovely morning for a run by the river", "urgency": "low"},
]


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run `switchboard ARGS` as an operator would."""
    return subprocess.run(
        [sys.executable, "-m", "switchboard_cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def samples(metrics_url: str) -> dict[str, float]:
    """Every sample of the service's /metrics, by its exposed name and labels."""
    text = httpx.get(metrics_url, timeout=5).text
    return {
        m.group(1): float(m.group(2))
        for m in re.finditer(r"^(\S+) (\S+)$", text, re.MULTILINE)
        if not m.group(1).startswith("#")
    }


def move_link(link: Path, target: Path) -> None:
    """Point a directory link elsewhere in one rename (as promotion moves `live`)."""
    staging = link.with_name(f".{link.name}.new")
    staging.unlink(missing_ok=True)
    staging.symlink_to(target, target_is_directory=True)
    os.replace(staging, link)


class Feed:
    """Plays ingest (raw mentions in) and the router (verdicts out), reading the classified topic."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.seen: dict[str, MentionClassified] = {}

    async def __aenter__(self) -> Feed:
        self.producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        self.consumer = AIOKafkaConsumer(
            CLASSIFIED.name(self.prefix),
            bootstrap_servers=self.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await self.producer.start()
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()
        await self.producer.stop()

    async def classify(self, texts: list[str], timeout: float = 30.0) -> list[MentionClassified]:
        """Send new mentions of `texts` and return their published classifications, in order."""
        ids = []
        for text in texts:
            mention = MentionIn(
                source="sms", source_id=uuid.uuid4().hex, text=text, created_at=time_now()
            )
            event = MentionReceived(mention_id=mention.mention_id, mention=mention)
            await self.producer.send_and_wait(
                RAW.name(self.prefix),
                event.model_dump_json().encode(),
                key=event.mention_id.encode(),
            )
            ids.append(event.mention_id)
        deadline = time.monotonic() + timeout
        while not set(ids) <= set(self.seen) and time.monotonic() < deadline:
            for batch in (await self.consumer.getmany(timeout_ms=200)).values():
                for record in batch:
                    out = MentionClassified.model_validate_json(record.value)
                    self.seen[out.mention_id] = out
        missing = [i for i in ids if i not in self.seen]
        assert not missing, f"no classification of {missing} within {timeout}s"
        return [self.seen[i] for i in ids]

    async def resolve(self, item: int, event: MentionClassified, disposition: str) -> None:
        """What the router publishes when an officer closes an item."""
        step = MentionRouted(
            mention_id=event.mention_id,
            item_id=item,
            queue_id="emergency",
            action=RoutedAction.RESOLVED,
            rule="urgent",
            urgency=event.classification.urgency,
            actor="officer-7",
            status="resolved",
            details={"disposition": disposition, "note": None},
        )
        await self.producer.send_and_wait(
            ROUTED.name(self.prefix), step.model_dump_json().encode(), key=event.mention_id.encode()
        )

    async def correct(self, item: int, event: MentionClassified, urgency: Urgency) -> None:
        """What the router publishes when an officer corrects a classification."""
        feedback = MentionFeedback(
            mention_id=event.mention_id,
            item_id=item,
            officer_id="officer-7",
            original_urgency=event.classification.urgency,
            original_topics=event.classification.topics,
            urgency=urgency,
            ruleset_version=event.classification.ruleset_version,
        )
        await self.producer.send_and_wait(
            FEEDBACK.name(self.prefix),
            feedback.model_dump_json().encode(),
            key=event.mention_id.encode(),
        )


def time_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


async def until_model(feed: Feed, version: str, text: str, timeout: float = 30.0) -> None:
    """Send `text` until a classification carries the model `version` (the stream reloaded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (out,) = await feed.classify([text])
        if out.classification.model_version == version:
            return
        await asyncio.sleep(RELOAD_SECONDS / 2)
    pytest.fail(f"the stream did not take up model {version} within {timeout}s")


async def test_false_alarms_retrain_a_shadow_that_stops_raising_them_then_promotion_and_rollback(
    kafka_bootstrap, topic_prefix, port_factory, service_runner, tmp_path
):
    rules = tmp_path / "rules.yaml"
    rules.write_text(MODEL_ONLY_RULES)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "".join(json.dumps({"text": t, "urgency": u, "topics": p}) + "\n" for t, u, p in CORPUS)
    )
    evaluation = tmp_path / "evaluation.jsonl"
    evaluation.write_text("".join(json.dumps(r) + "\n" for r in EVALUATION))
    # The agency's models directory, its live model trained on the corpus alone.
    models = ModelsDirectory(tmp_path / "models")
    first = train([{"text": t, "urgency": u, "topics": p} for t, u, p in CORPUS], data_hash="c0")
    # The test's premise, checked offline first so that a trainer change that breaks it
    # says so here: the live model raises every new shoot to high.
    premise = Classifier(ruleset=Ruleset.load(rules), model=first).classify_texts(
        NEW_SHOOTS, languages=["en"] * len(NEW_SHOOTS)
    )
    assert [c.urgency for c in premise] == [Urgency.HIGH] * len(NEW_SHOOTS), (
        "the first model no longer raises the new shoots; choose shoots it raises"
    )
    first.save(tmp_path / "first")
    models.install(tmp_path / "first", first)
    models.point_live_at(first.version)
    # Until a candidate exists the shadow is the live model itself.
    shadow_link = tmp_path / "shadow"
    shadow_link.symlink_to(models.versions / first.version, target_is_directory=True)

    launcher = ClassifierLauncher(service_runner, port_factory, kafka_bootstrap, topic_prefix)
    worker, metrics_url = launcher.start(
        rules,
        RELOAD_SECONDS,
        tmp_path / "classifier-data",
        SWITCHBOARD_CLASSIFIER_MODEL_PATH=str(models.live),
        SWITCHBOARD_CLASSIFIER_SHADOW_MODEL_PATH=str(shadow_link),
    )

    async with Feed(kafka_bootstrap, topic_prefix) as feed:
        marked = await feed.classify(MARKED)
        raised = [m for m in marked if m.classification.urgency in (Urgency.CRITICAL, Urgency.HIGH)]
        assert len(raised) >= 9, [m.classification.urgency for m in marked]
        assert {m.classification.model_version for m in marked} == {first.version}
        # Officers close every one as a false alarm; one of them also says what it was.
        for item, event in enumerate(marked, start=1):
            await feed.resolve(item, event, "false_alarm")
        await feed.correct(1, marked[0], Urgency.LOW)
        # A real emergency they acted on is labelled too, and keeps its urgency.
        (emergency,) = await feed.classify(["gunman shooting at people in the park right now"])
        assert emergency.classification.urgency is Urgency.CRITICAL
        await feed.resolve(100, emergency, "actioned")

        # Trained from the topics, as an operator would: --feedback is the broker.
        trained = cli(
            "train",
            "--data",
            str(corpus),
            "--feedback",
            kafka_bootstrap,
            "--topic-prefix",
            topic_prefix,
            "--rules",
            str(rules),
            "--out",
            str(tmp_path / "candidate"),
        )
        assert trained.returncode == 0, trained.stderr
        summary = json.loads(trained.stderr.strip().splitlines()[0])
        assert summary == {
            "corpus": len(CORPUS),
            "feedback": len(MARKED) + 1,
            "replaced": 0,
            "skipped": {},
            "training": len(CORPUS) + len(MARKED) + 1,
        }
        candidate = TextModel.load(tmp_path / "candidate")
        assert candidate.version == json.loads(trained.stdout)["version"] != first.version
        assert candidate.meta["training_records"] == len(CORPUS) + len(MARKED) + 1

        # The running classifier takes the candidate up in shadow...
        move_link(shadow_link, tmp_path / "candidate")
        deadline = time.monotonic() + 30
        shadow_info = f'switchboard_classifier_shadow_model_info{{version="{candidate.version}"}}'
        while samples(metrics_url).get(shadow_info) != 1 and time.monotonic() < deadline:
            await feed.classify(["lovely sunny morning in the park"])
            await asyncio.sleep(RELOAD_SECONDS / 2)
        before = samples(metrics_url)
        assert before.get(shadow_info) == 1, worker.log_tail()
        # ...which leaves the new shoots low while the published verdicts still raise them.
        shoots = await feed.classify(NEW_SHOOTS)
        assert all(s.classification.urgency is Urgency.HIGH for s in shoots), [
            s.classification.urgency for s in shoots
        ]
        assert {s.classification.model_version for s in shoots} == {first.version}
        after = samples(metrics_url)
        lowered = 'switchboard_classifier_shadow_disagreements_total{live="high",shadow="low"}'
        assert after[lowered] - before[lowered] == len(NEW_SHOOTS)
        low = 'switchboard_classifier_shadow_classified_total{urgency="low"}'
        assert after[low] - before[low] == len(NEW_SHOOTS)
        for name in (
            "switchboard_classifier_shadow_would_be_critical_total",
            "switchboard_classifier_shadow_critical_dropped_total",
        ):
            assert after[name] == before[name], name

        # Promotion measures both, makes the candidate live and logs it.
        promoted = cli(
            "promote",
            "--candidate",
            str(tmp_path / "candidate"),
            "--models-dir",
            str(models.root),
            "--blind",
            str(evaluation),
            "--rules",
            str(rules),
            "--by",
            "supervisor-2",
        )
        assert promoted.returncode == 0, promoted.stdout + promoted.stderr
        (entry,) = models.history()
        assert entry["action"] == "promote" and entry["promoted"] is True
        assert (entry["before"]["version"], entry["after"]["version"]) == (
            first.version,
            candidate.version,
        )
        assert entry["after"]["training_data_sha256"] == candidate.meta["training_data_sha256"]
        assert entry["by"] == "supervisor-2"
        figures = entry["figures"]["blind:evaluation.jsonl"]
        assert figures["candidate"]["critical_recall"] >= figures["live"]["critical_recall"]
        assert figures["live"]["hard_negative_false_alarm_rate"] >= 0.75
        assert figures["candidate"]["hard_negative_false_alarm_rate"] <= 0.25
        assert models.live_version() == candidate.version

        # The live model changes in the running stream: shoots now go out low.
        await until_model(feed, candidate.version, NEW_SHOOTS[0])
        published = await feed.classify(NEW_SHOOTS)
        assert all(p.classification.urgency is Urgency.LOW for p in published)
        (real,) = await feed.classify(["shots fired, a gunman is shooting outside the bank"])
        assert real.classification.urgency is Urgency.CRITICAL

        # Rollback puts the first model back, in the log and in the stream.
        rolled = cli("rollback", "--models-dir", str(models.root), "--by", "supervisor-2")
        assert rolled.returncode == 0, rolled.stderr
        assert models.live_version() == first.version
        last = models.history()[-1]
        assert (last["action"], last["before"]["version"], last["after"]["version"]) == (
            "rollback",
            candidate.version,
            first.version,
        )
        await until_model(feed, first.version, NEW_SHOOTS[0])
        (again,) = await feed.classify([NEW_SHOOTS[1]])
        assert again.classification.urgency is Urgency.HIGH

        # Model files that no longer load (tampered, torn) are refused, live
        # and shadow alike: the last good ones keep classifying.
        for folder in (models.versions / first.version, tmp_path / "candidate"):
            for path in folder.iterdir():
                path.write_bytes(b"not a model " + path.read_bytes()[:64])
        refused = {
            "live": 'switchboard_classifier_reloads_total{outcome="refused"}',
            "shadow": 'switchboard_classifier_shadow_reloads_total{outcome="refused"}',
        }
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            (kept,) = await feed.classify([NEW_SHOOTS[2]])
            assert kept.classification.model_version == first.version
            assert kept.classification.urgency is Urgency.HIGH
            now = samples(metrics_url)
            if all(now[name] == 1 for name in refused.values()):
                break
            await asyncio.sleep(RELOAD_SECONDS / 2)
        assert {k: samples(metrics_url)[v] for k, v in refused.items()} == {"live": 1, "shadow": 1}
        assert samples(metrics_url)[shadow_info] == 1  # the candidate still runs in shadow
        assert worker.proc.poll() is None, worker.log_tail()
