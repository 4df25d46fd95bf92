"""`switchboard train --feedback`, `feedback`, `promote` and `rollback`: officers' verdicts to a live model.

A feedback SOURCE is either a JSON-lines export of the router's store (one
item per line as `GET /v1/items/{id}` shows it: text, urgency, topics,
disposition, and the audit trail whose `feedback` steps are the corrections)
or Kafka bootstrap servers (`host:port[,host:port]`, or `kafka://host:port`).
From Kafka the corrections (`mentions.feedback.v1`) and dispositions (the
`resolved` steps on `mentions.routed.v1`) are read from the beginning to the
end, then the classified topic for the texts of the mentions they concern
(neither event carries the text). The topics keep what their retention keeps:
the classified topic seven days, the feedback topic ninety, so verdicts older
than a week need the export. Kafka's security settings and the topic prefix
come from the usual `SWITCHBOARD_*` variables (or --topic-prefix).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from switchboard_classifier.combine import Classifier
from switchboard_classifier.evaluation import read_records
from switchboard_classifier.feedback import FeedbackLedger, merge, to_jsonl
from switchboard_classifier.promotion import ModelsDirectory, PromotionError, promote, rollback
from switchboard_classifier.rules import Ruleset, RulesetError
from switchboard_shared.events import MentionClassified, MentionFeedback, MentionRouted
from switchboard_shared.settings import CommonSettings
from switchboard_shared.topics import CLASSIFIED, FEEDBACK, ROUTED, TopicSpec

KAFKA_SCHEME = "kafka://"
READ_TIMEOUT_SECONDS = 120.0


# host:port[,host:port...]: bootstrap servers; anything else names an export file.
BOOTSTRAP = re.compile(r"[\w.\-]+:\d+(,[\w.\-]+:\d+)*")


def _is_kafka(source: str) -> bool:
    if source.startswith(KAFKA_SCHEME):
        return True
    return not Path(source).exists() and BOOTSTRAP.fullmatch(source) is not None


def _reading_errors() -> tuple[type[Exception], ...]:
    """What reading the feedback may raise and is reported as such.

    aiokafka is imported only when the feedback is read: it is a third of a
    second of start-up that every other command (`classify` first) need not pay.
    """
    from aiokafka.errors import KafkaError

    return (OSError, ValueError, TimeoutError, KafkaError)


async def _read_to_end(
    settings: CommonSettings, spec: TopicSpec, handle: Callable[[bytes], None]
) -> int:
    """Hand every record now on a topic to `handle`, from the beginning to the end as it is now."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from switchboard_shared.kafka import client_options, partitions_of

    name = spec.name(settings.topic_prefix)
    partitions = await partitions_of(settings, name)
    if not partitions:
        return 0
    consumer = AIOKafkaConsumer(
        **client_options(settings),
        group_id=None,
        client_id="switchboard-cli-feedback",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    seen = 0
    try:
        assigned = [TopicPartition(name, p) for p in partitions]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        end = await consumer.end_offsets(assigned)
        deadline = time.monotonic() + READ_TIMEOUT_SECONDS
        remaining = {tp for tp in assigned if end[tp] > 0}
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name}: not read to its end in {READ_TIMEOUT_SECONDS:.0f}s")
            for records in (await consumer.getmany(*remaining, timeout_ms=500)).values():
                for record in records:
                    if record.value is not None:
                        handle(record.value)
                        seen += 1
            remaining = {tp for tp in remaining if await consumer.position(tp) < end[tp]}
    finally:
        await consumer.stop()
    return seen


def _decoder(model: type[BaseModel], add: Callable[[Any], None]) -> Callable[[bytes], None]:
    def handle(value: bytes) -> None:
        try:
            event = model.model_validate_json(value)
        except ValidationError:
            return  # not this topic's event: the stages dead-letter those, nothing to learn
        add(event)

    return handle


async def read_kafka(ledger: FeedbackLedger, settings: CommonSettings) -> None:
    """Fill the ledger from the feedback, routed and classified topics."""
    await _read_to_end(settings, FEEDBACK, _decoder(MentionFeedback, ledger.add_correction))
    await _read_to_end(settings, ROUTED, _decoder(MentionRouted, ledger.add_routed))

    def texts(event: MentionClassified) -> None:
        if ledger.wants_text(event.mention_id):
            ledger.add_classified(event)

    await _read_to_end(settings, CLASSIFIED, _decoder(MentionClassified, texts))


def read_export(ledger: FeedbackLedger, path: Path) -> None:
    """Fill the ledger from a JSON-lines export of the router's items."""
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                ledger.add_item(json.loads(line))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{number}: not an item of the router: {exc}") from exc


def feedback_records(
    sources: Sequence[str], *, topic_prefix: str | None
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The labelled records of every source, and per source why mentions gave none."""
    records: list[dict[str, Any]] = []
    skipped: dict[str, int] = {}
    for source in sources:
        if _is_kafka(source):
            servers = source.removeprefix(KAFKA_SCHEME)
            overrides: dict[str, Any] = {"kafka_bootstrap_servers": servers}
            if topic_prefix is not None:
                overrides["topic_prefix"] = topic_prefix
            settings = CommonSettings(**overrides)
            ledger = FeedbackLedger(
                source=f"{KAFKA_SCHEME}{servers}/{settings.topic_prefix}{FEEDBACK.base_name}"
            )
            asyncio.run(read_kafka(ledger, settings))
        else:
            ledger = FeedbackLedger(source=f"router-export:{Path(source).name}")
            read_export(ledger, Path(source))
        records.extend(ledger.records())
        for reason, count in ledger.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + count
    return records, skipped


def with_feedback(
    train: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """`train`, first merging the --feedback records into the --data records when given."""

    def run(args: argparse.Namespace) -> int:
        if not getattr(args, "feedback", None):
            return train(args)
        corpus: list[dict[str, Any]] = []
        data: Path | None = getattr(args, "data", None)
        if data is not None:
            with data.open(encoding="utf-8") as stream:
                corpus = read_records(stream)
        try:
            found, skipped = feedback_records(args.feedback, topic_prefix=args.topic_prefix)
        except _reading_errors() as exc:
            print(f"cannot read the feedback: {exc}", file=sys.stderr)
            return 2
        merged, replaced = merge(corpus, found)
        # Counts only: the records hold the mentions' text.
        summary = {"corpus": len(corpus), "feedback": len(found), "replaced": replaced}
        print(json.dumps({**summary, "skipped": skipped, "training": len(merged)}), file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="switchboard-train-") as folder:
            stem = data.stem if data is not None else "no-corpus"
            args.data = Path(folder) / f"{stem}+feedback.jsonl"
            args.data.write_text(to_jsonl(merged), "utf-8")
            return train(args)

    return run


def cmd_feedback(args: argparse.Namespace) -> int:
    """Print the labelled records officers' verdicts give, as JSON lines."""
    try:
        records, skipped = feedback_records(args.source, topic_prefix=args.topic_prefix)
    except _reading_errors() as exc:
        print(f"cannot read the feedback: {exc}", file=sys.stderr)
        return 2
    out = args.out.open("w", encoding="utf-8") if args.out else sys.stdout
    try:
        out.write(to_jsonl(records))
    finally:
        if args.out:
            out.close()
    print(json.dumps({"records": len(records), "skipped": skipped}), file=sys.stderr)
    return 0


def _sets(args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    named = [("blind", args.blind)] + [("cross-source", p) for p in args.cross_source or ()]
    sets = {}
    for kind, path in named:
        with path.open(encoding="utf-8") as stream:
            sets[f"{kind}:{path.name}"] = read_records(stream)
    return sets


def cmd_promote(args: argparse.Namespace) -> int:
    """Make the candidate live if it loses no critical recall on any set; log it either way."""
    try:
        classifier = Classifier(ruleset=Ruleset.load(args.rules))
        entry = promote(
            ModelsDirectory(args.models_dir),
            args.candidate,
            classifier=classifier,
            sets=_sets(args),
            by=args.by,
        )
    except (PromotionError, RulesetError, OSError, ValueError) as exc:
        print(f"cannot promote: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(entry, indent=2, ensure_ascii=False))
    if not entry["promoted"]:
        print("refused: " + "; ".join(entry["reasons"]), file=sys.stderr)
        return 1
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    """Put the model live before the last promotion back, and log it."""
    try:
        entry = rollback(ModelsDirectory(args.models_dir), by=args.by)
    except (PromotionError, OSError) as exc:
        print(f"cannot roll back: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(entry, indent=2, ensure_ascii=False))
    return 0


def add_parsers(sub: Any, *, train: argparse.ArgumentParser) -> None:
    """Add --feedback to `train`; register feedback, promote and rollback."""

    def prefix_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--topic-prefix",
            default=None,
            help="topic prefix of the deployment (default: SWITCHBOARD_TOPIC_PREFIX)",
        )

    train.add_argument(
        "--feedback",
        action="append",
        metavar="SOURCE",
        help="officers' verdicts to merge with --data (feedback wins for the same text): "
        "Kafka bootstrap servers or a JSON-lines export of the router's items; repeatable",
    )
    prefix_option(train)
    train.set_defaults(func=with_feedback(train.get_default("func")))

    feedback = sub.add_parser("feedback", help="officers' verdicts as labelled JSON lines")
    feedback.add_argument("source", nargs="+", help="Kafka bootstrap servers or a router export")
    feedback.add_argument("--out", type=Path, default=None, help="write here, not to stdout")
    prefix_option(feedback)
    feedback.set_defaults(func=cmd_feedback)

    me = getpass.getuser()
    promote_p = sub.add_parser(
        "promote", help="make a candidate model live if it loses no critical recall"
    )
    promote_p.add_argument("--candidate", type=Path, required=True, help="the model directory")
    promote_p.add_argument(
        "--models-dir", type=Path, required=True, help="holds the live link and promotions log"
    )
    promote_p.add_argument("--blind", type=Path, required=True, help="the blind gold-format set")
    promote_p.add_argument(
        "--cross-source",
        type=Path,
        action="append",
        help="a gold-format set of one source the models were not trained on; repeatable",
    )
    promote_p.add_argument("--rules", type=Path, default=None, help="the rule set the stream uses")
    promote_p.add_argument("--by", default=me, help=f"who promotes (default: {me})")
    promote_p.set_defaults(func=cmd_promote)

    rollback_p = sub.add_parser(
        "rollback", help="put the model live before the last promotion back"
    )
    rollback_p.add_argument("--models-dir", type=Path, required=True)
    rollback_p.add_argument("--by", default=me, help=f"who rolls back (default: {me})")
    rollback_p.set_defaults(func=cmd_rollback)
