"""`switchboard classify`, `train` and `evaluate`: the classifier from the command line.

`classify` reads JSON-lines mentions in chunks and classifies each chunk as
one batch (as the stream does), writing one JSON object per valid input
line, in order. `train` fits a model on gold-format JSON lines and saves it
with its version, metrics and the hash of its data; `evaluate` prints the
acceptance figures of a gold-format file as JSON, for rules alone, model
alone and both combined (and the bare TF-IDF peer with --baseline), with a
table of the headline figures on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_json as json_bytes

from switchboard_classifier.combine import Classifier, Decision
from switchboard_classifier.evaluation import (
    by_source,
    cross_predictions,
    cross_rows,
    evaluate,
    read_records,
    rows_report,
    split_predictions,
    without_rules,
)
from switchboard_classifier.model import ModelError, TextModel, data_sha256, train
from switchboard_classifier.place import Places
from switchboard_classifier.policy_search import choose_policy
from switchboard_classifier.rules import Ruleset, RulesetError
from switchboard_classifier.scoring import fit_calibration, summary_table, to_json, urgency_outcomes
from switchboard_cli import feedback as feedback_cli
from switchboard_shared.events import MentionIn
from switchboard_shared.problems import field_errors

CHUNK = 2000
GC_ALLOCATIONS = 100_000  # net allocations between the cycle collector's youngest passes


def _open(name: str) -> IO[str]:
    return sys.stdin if name == "-" else Path(name).open(encoding="utf-8")


def build_classifier(args: argparse.Namespace) -> Classifier:
    """The classifier the options ask for: shipped rules, model and demo city by default."""
    return Classifier(
        ruleset=Ruleset.load(args.rules),
        model=None if args.no_model else TextModel.load(args.model),
        places=Places.load(args.gazetteer, args.districts),
    )


def _load_or_explain(args: argparse.Namespace) -> Classifier | None:
    """The classifier the options ask for, or None after saying on stderr why not."""
    try:
        return build_classifier(args)
    except (RulesetError, ModelError, OSError, ValueError) as exc:
        print(f"cannot load the classifier: {exc}", file=sys.stderr)
        return None


def output_record(mention_id: str, d: Decision, versions: dict[str, str | None]) -> dict[str, Any]:
    """One line of `switchboard classify` output.

    Made from the classifier's plain decision rather than the event model:
    this runs for every line, and the fields are JSON types already.
    """
    location = d.location
    return {
        "id": mention_id,
        "urgency": d.urgency.value,
        "urgency_score": d.score,
        "topics": list(d.topics),
        "topic_scores": d.topic_scores,
        "reasons": [
            {"rule": r.rule, "label": r.label, "matched": list(r.matched)} for r in d.reasons
        ],
        "language": d.language,
        "location": (
            {
                "text": location.text,
                "how": location.how,
                "lat": location.lat,
                "lon": location.lon,
                "street": location.street,
            }
            if location
            else None
        ),
        "district": d.district,
        "versions": versions,
    }


def _chunks(stream: IO[str]) -> Iterator[list[tuple[int, str]]]:
    chunk: list[tuple[int, str]] = []
    for number, line in enumerate(stream, start=1):
        if line.strip():
            chunk.append((number, line))
            if len(chunk) == CHUNK:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


_MENTIONS: TypeAdapter[list[MentionIn]] = TypeAdapter(list[MentionIn])


def _parse(chunk: list[tuple[int, str]]) -> tuple[list[MentionIn], list[tuple[int, str, str]]]:
    """The valid mentions of a chunk, and (line, field, message) for each invalid line.

    The whole chunk is first validated as one JSON array (one call into
    pydantic-core instead of one per line); only when that fails, or a line
    holds more than one value, is it done line by line to say which lines.
    """
    try:
        mentions = _MENTIONS.validate_json("[" + ",".join(line for _, line in chunk) + "]")
        if len(mentions) == len(chunk):
            return mentions, []
    except ValidationError:
        pass
    valid: list[MentionIn] = []
    errors: list[tuple[int, str, str]] = []
    for number, line in chunk:
        try:
            valid.append(MentionIn.model_validate_json(line))
        except ValidationError as exc:
            first = field_errors(exc)[0]
            errors.append((number, str(first["field"]), str(first["message"])))
    return valid, errors


def cmd_classify(args: argparse.Namespace) -> int:
    """Classify JSON-lines mentions with the rules and model the stream uses."""
    classifier = _load_or_explain(args)
    if classifier is None:
        return 2
    versions = {"ruleset": classifier.ruleset.version, "model": classifier.versions["model"]}
    bad = 0
    out = sys.stdout.buffer
    frozen = False
    with _open(args.file) as stream:
        for chunk in _chunks(stream):
            mentions, errors = _parse(chunk)
            for number, field, message in errors:
                bad += 1
                print(f"line {number}: {field}: {message}", file=sys.stderr)
            results = classifier.decide_mentions(mentions)
            # pydantic-core writes compact UTF-8 JSON several times faster than json.dumps
            out.write(
                b"".join(
                    json_bytes(output_record(m.mention_id, c, versions)) + b"\n"
                    for m, c in zip(mentions, results, strict=True)
                )
            )
            if not frozen:
                # The classifier's many long-lived objects need never be scanned by the cycle
                # collector again; without this it keeps re-walking them as mentions come and
                # go. After the first chunk, not before: the language model and numba's
                # compiled kernels (hundreds of thousands of objects) load on first use.
                gc.freeze()
                # Each chunk allocates about a million short-lived objects that reference
                # counting frees (few cycles among them); collecting every 700 allocations,
                # the default, spent a tenth of the run walking them for nothing.
                gc.set_threshold(GC_ALLOCATIONS, 10, 10)
                frozen = True
    out.flush()
    return 2 if bad else 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train a model on gold-format JSON lines and save it in --out."""
    with args.data.open(encoding="utf-8") as stream:
        records = read_records(stream)
    try:
        model = train(records, data_hash=data_sha256(args.data), meaning_share=args.meaning_share)
    except ModelError as exc:
        print(f"cannot train: {exc}", file=sys.stderr)
        return 2
    model.meta["training_data"] = args.data.name
    ruleset = Ruleset.load(args.rules)
    combined = Classifier(ruleset=ruleset, model=model)
    try:
        # How far this model may move the rules, measured on records each fold's model
        # never saw: a model trained on an agency's own data may earn the right to
        # outvote the generic lexicon.
        if not args.rules_first:
            policy = choose_policy(combined, records)
            model.meta["combination"] = policy
            combined = dataclasses.replace(
                combined,
                lower_confidence=policy["lower_confidence"],
                raise_any_confidence=policy["raise_any_confidence"],
                critical_confidence=policy["critical_confidence"],
                topic_threshold=policy["topic_threshold"],
                topic_threshold_beside_rules=policy["topic_threshold_beside_rules"],
            )
            print(
                "combination policy: lower_confidence"
                f" {policy['lower_confidence']}, raise_any_confidence"
                f" {policy['raise_any_confidence']}, critical_confidence"
                f" {policy['critical_confidence']}, topic_threshold {policy['topic_threshold']}"
                f" ({policy['topic_threshold_beside_rules']} beside the rules' topics)",
                file=sys.stderr,
            )
        # How often each score is right, measured the same way under that policy.
        held_out_predictions = cross_predictions(combined, records)
    except ModelError as exc:  # too few records to split: scores stay as they are
        print(f"scores not calibrated: {exc} in a fold", file=sys.stderr)
    else:
        model.meta["calibration"] = fit_calibration(urgency_outcomes(records, held_out_predictions))
    if args.eval:
        with args.eval.open(encoding="utf-8") as stream:
            held_out = read_records(stream)
        model.meta["metrics"] = {
            "data": args.eval.name,
            "data_sha256": data_sha256(args.eval),
            "evaluated": datetime.now(UTC).isoformat(timespec="seconds"),
            "model_only": evaluate(
                Classifier(ruleset=without_rules(ruleset), model=model), held_out
            ),
            "rules_and_model": evaluate(Classifier(ruleset=ruleset, model=model), held_out),
        }
    model.save(args.out)
    print(json.dumps({"saved": str(args.out), "version": model.version}))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Print the figures of a gold-format file as JSON, and a table of every row on stderr.

    The rows: rules alone, model alone, rules and model combined, and with
    --baseline the bare TF-IDF + logistic regression peer trained on the same
    records. The top level of the JSON is the combined classifier's report.
    """
    classifier = _load_or_explain(args)
    if classifier is None:
        return 2
    with _open(str(args.data)) as stream:
        records = read_records(stream)
    if args.no_model:
        classifier = dataclasses.replace(classifier, model=None)
    # The policy the loaded model was trained with, unless the options set one; models
    # trained here (per fold, per source) are combined the same way.
    explicit = args.lower_confidence is not None or args.raise_any_confidence is not None
    policy = classifier.policy
    classifier = dataclasses.replace(
        classifier,
        lower_confidence=args.lower_confidence if explicit else policy.lower_confidence,
        raise_any_confidence=args.raise_any_confidence if explicit else policy.raise_any_confidence,
        critical_confidence=policy.critical_confidence,
        topic_threshold=policy.topic_threshold,
        topic_threshold_beside_rules=policy.topic_threshold_beside_rules,
        use_model_policy=not explicit,
        meaning_share=args.meaning_share,
    )
    training = None
    if args.train:
        with args.train.open(encoding="utf-8") as stream:
            training = read_records(stream)
    if args.baseline and not (training is not None or args.folds or args.by_source):
        print(
            "--baseline needs data to train on: --train FILE, --folds N or --by-source",
            file=sys.stderr,
        )
        return 2
    try:
        if args.by_source:
            report = by_source(classifier, records, baseline=args.baseline)
            for source, part in report["by_source"].items():
                title = f"{source} ({part['records']} records, trained on the other sources)"
                print(summary_table(part["summary"], title) + "\n", file=sys.stderr)
            mean = report["summary"]["mean over sources"]
            print(summary_table(mean, "mean over sources"), file=sys.stderr)
            print(to_json(report))
            return 0
        if args.folds:
            rows = cross_rows(classifier, records, folds=args.folds, baseline=args.baseline)
            versions = {**classifier.versions, "model": "retrained per fold"}
            title = (
                f"{args.folds}-fold cross-validation on {args.data.name} ({len(records)} records)"
            )
        else:
            rows = rows_report(
                records, split_predictions(classifier, training, records, baseline=args.baseline)
            )
            versions = classifier.versions
            if training is not None:
                versions = {**versions, "model": f"trained on {args.train.name}"}
            title = f"{args.data.name} ({len(records)} records)"
    except ModelError as exc:
        what = "cross-validate" if args.folds else "train"
        print(f"cannot {what}: {exc}", file=sys.stderr)
        return 2
    main_row = "combined" if "combined" in rows["rows"] else "rules"
    report = {**rows["rows"][main_row], **rows, "versions": versions}
    print(summary_table(rows["summary"], title), file=sys.stderr)
    print(to_json(report))
    return 0


def add_parsers(sub: Any) -> None:
    """Register classify, train and evaluate on the CLI's sub-parsers."""

    def classifier_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--rules", type=Path, default=None, help="a YAML rule set")
        p.add_argument("--model", type=Path, default=None, help="a model directory")
        p.add_argument("--no-model", action="store_true", help="rules only")
        p.add_argument("--gazetteer", type=Path, default=None, help="a gazetteer YAML")
        p.add_argument("--districts", type=Path, default=None, help="a district GeoJSON")

    classify = sub.add_parser("classify", help="classify JSON-lines mentions (FILE or - for stdin)")
    classify.add_argument("file")
    classifier_options(classify)
    classify.set_defaults(func=cmd_classify)

    train_p = sub.add_parser("train", help="train a model from gold-format JSON lines")
    train_p.add_argument("--data", type=Path, required=True)
    train_p.add_argument("--out", type=Path, required=True)
    train_p.add_argument("--eval", type=Path, default=None, help="held-out gold file for metrics")
    train_p.add_argument("--rules", type=Path, default=None)
    train_p.add_argument(
        "--rules-first",
        action="store_true",
        help="do not let the model lower the rules or raise past one level (no policy search)",
    )
    train_p.add_argument(
        "--meaning-share",
        type=float,
        default=None,
        help="share of mentions the model's meaning head (sentence vectors) may see;"
        " 0: train no head (default: the throughput budget, see docs/classifier-meaning.md)",
    )
    train_p.set_defaults(func=cmd_train)
    feedback_cli.add_parsers(sub, train=train_p)  # --feedback, feedback, promote, rollback

    evaluate_p = sub.add_parser("evaluate", help="score the classifier on a gold-format file")
    evaluate_p.add_argument("--data", type=Path, required=True)
    evaluate_p.add_argument(
        "--lower-confidence",
        type=float,
        default=None,
        help="a model trained here may lower a non-critical rule urgency when this sure",
    )
    evaluate_p.add_argument(
        "--raise-any-confidence",
        type=float,
        default=None,
        help="a model trained here may raise past one level beside the rules when this sure",
    )
    evaluate_p.add_argument(
        "--meaning-share",
        type=float,
        default=None,
        help="share of mentions the meaning head may see (default: the share each model was"
        " trained with; 0: the n-gram model alone)",
    )
    evaluate_p.add_argument(
        "--train", type=Path, default=None, help="train the model on this file, test on --data"
    )
    evaluate_p.add_argument(
        "--baseline",
        action="store_true",
        help="also train scikit-learn TF-IDF + balanced logistic regression on the same data",
    )
    evaluate_p.add_argument(
        "--by-source",
        action="store_true",
        help="for each provenance.dataset: train on every other source, test on that one",
    )
    evaluate_p.add_argument(
        "--folds",
        type=int,
        default=0,
        help="cross-validate: retrain the model on all folds but one, score the one left out",
    )
    classifier_options(evaluate_p)
    evaluate_p.set_defaults(func=cmd_evaluate)
