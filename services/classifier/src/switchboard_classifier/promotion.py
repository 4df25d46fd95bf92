"""Promoting a candidate model to live and rolling back: a models directory and its log.

    <models>/versions/<version>/   every model ever made live, copied in and never changed
    <models>/live -> versions/<v>  the live model; the stream's SWITCHBOARD_CLASSIFIER_MODEL_PATH
                                   points at this link and reloads when it moves
    <models>/promotions.jsonl      one JSON line per promotion or rollback, appended
    <models>/.lock                 held while one promotion or rollback runs

A candidate is made live only if it loses no critical recall against the live
model on any of the sets it is measured on (the blind set and the
cross-source sets): a model that misses an emergency the live one catches is
not an improvement whatever else it gains. The link is replaced in one
`rename`, so the stream sees the old model or the new one, never a mix of
files. Files only: no Kafka, no faust.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from switchboard_classifier.combine import Classifier
from switchboard_classifier.evaluation import evaluate
from switchboard_classifier.model import ModelError, TextModel

LIVE_LINK = "live"
VERSIONS_DIR = "versions"
PROMOTIONS_LOG = "promotions.jsonl"
LOCK_FILE = ".lock"
# Recall is a share of a set's criticals; equal shares computed from equal
# counts can differ in the last bits, and only a real loss may refuse.
RECALL_TOLERANCE = 1e-9


class PromotionError(RuntimeError):
    """A promotion or rollback that cannot be done; the message says why."""


class Action(StrEnum):
    """What a line of the promotions log records."""

    PROMOTE = "promote"
    REFUSED = "refused"  # a candidate measured and kept out
    ROLLBACK = "rollback"


def shipped_model_dir() -> Path:
    """The directory of the model shipped with the classifier."""
    return Path(str(resources.files(__package__).joinpath("data", "model")))


def figures(classifier: Classifier, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The figures a promotion is judged and recorded by, for one evaluation set."""
    report = evaluate(classifier, records)
    urgency = report.get("urgency") or {}
    critical = (urgency.get("per_label") or {}).get("critical") or {}
    hard = report.get("hard_negatives") or {}
    return {
        "records": report["records"],
        "critical_support": critical.get("support", 0),
        "critical_recall": critical.get("recall"),
        "critical_precision": critical.get("precision"),
        "urgency_macro_f1": urgency.get("macro_f1"),
        "hard_negative_false_alarm_rate": hard.get("rate"),
    }


@dataclass(frozen=True)
class Verdict:
    """Whether a candidate may go live, and for each set why or why not."""

    accepted: bool
    reasons: tuple[str, ...]


def judge(
    live: Mapping[str, Mapping[str, Any]], candidate: Mapping[str, Mapping[str, Any]]
) -> Verdict:
    """Refuse the candidate if its critical recall is below the live model's on any set."""
    if not candidate:
        return Verdict(False, ("no evaluation set given: nothing shows the candidate is safe",))
    reasons = []
    accepted = True
    for name, theirs in candidate.items():
        ours = live[name]
        if not theirs["critical_support"]:
            reasons.append(f"{name}: no critical records, critical recall not compared")
            continue
        before, after = ours["critical_recall"], theirs["critical_recall"]
        if after + RECALL_TOLERANCE < before:
            accepted = False
            reasons.append(f"{name}: critical recall drops from {before} to {after}")
        else:
            reasons.append(f"{name}: critical recall {before} -> {after}")
    return Verdict(accepted, tuple(reasons))


def _describe(model: TextModel) -> dict[str, Any]:
    return {
        "version": model.version,
        "training_data_sha256": model.meta.get("training_data_sha256"),
        "training_records": model.meta.get("training_records"),
    }


class ModelsDirectory:
    """The live link, the versions beside it and the log of every change of the link."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.live = root / LIVE_LINK
        self.versions = root / VERSIONS_DIR
        self.log = root / PROMOTIONS_LOG

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the directory's lock: two operators promoting at once must not interleave."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / LOCK_FILE).open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def live_version(self) -> str | None:
        """The version the live link points at (None: there is no live link yet)."""
        if not self.live.is_symlink():
            if self.live.exists():
                raise PromotionError(
                    f"{self.live} is not a link: promotions manage a link there, not a directory"
                )
            return None
        return Path(os.readlink(self.live)).name

    def load(self, version: str) -> TextModel:
        """The model of a version in the directory (loading checks its recorded hash)."""
        try:
            return TextModel.load(self.versions / version)
        except ModelError as exc:
            raise PromotionError(f"version {version} cannot be used: {exc}") from exc

    def install(self, source: Path, model: TextModel) -> Path:
        """Copy a model directory in as its version (already there with the same files: kept)."""
        target = self.versions / model.version
        if target.exists():
            if not _same_files(source, target):
                raise PromotionError(
                    f"{target} exists with other files than {source}: a version names one model"
                )
            return target
        staging = self.versions / f".{model.version}.incoming"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(source, staging)
        staging.rename(target)
        self.load(model.version)  # the copy must pass the check the stream will make
        return target

    def point_live_at(self, version: str) -> None:
        """Move the live link to a version in one rename (the stream never sees it half-moved)."""
        staging = self.root / f".{LIVE_LINK}.incoming"
        staging.unlink(missing_ok=True)
        staging.symlink_to(Path(VERSIONS_DIR) / version, target_is_directory=True)
        os.replace(staging, self.live)
        _fsync_directory(self.root)

    def history(self) -> list[dict[str, Any]]:
        """Every line of the promotions log, oldest first."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text("utf-8").splitlines() if line]

    def live_stack(self) -> list[str]:
        """The versions made live in turn and not rolled back, the live one last."""
        stack: list[str] = []
        for entry in self.history():
            if entry["action"] == Action.PROMOTE:
                before = entry["before"]["version"]
                if not stack and before is not None:
                    stack.append(before)
                stack.append(entry["after"]["version"])
            elif entry["action"] == Action.ROLLBACK and stack:
                stack.pop()
        return stack

    def append(self, entry: dict[str, Any]) -> None:
        """Append one line to the promotions log and make it durable."""
        with self.log.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def _same_files(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir() if p.is_file())
    if names != sorted(p.name for p in b.iterdir() if p.is_file()):
        return False
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in names)


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def promote(
    models: ModelsDirectory,
    candidate_dir: Path,
    *,
    classifier: Classifier,
    sets: Mapping[str, Sequence[dict[str, Any]]],
    by: str,
) -> dict[str, Any]:
    """Measure the candidate against the live model on `sets`; make it live only if judged safe.

    `classifier` holds the rules and places the stream uses (its model is
    replaced by each of the two in turn). Returns the log entry, which is
    appended whether the candidate was promoted or refused (`promoted`
    says which); raises PromotionError when no comparison can be made.
    """
    try:
        candidate = TextModel.load(candidate_dir)
    except ModelError as exc:
        raise PromotionError(f"the candidate cannot be used: {exc}") from exc
    with models.locked():
        live_version = models.live_version()
        if live_version is None:  # the first promotion: what the stream ran until now
            live = TextModel.load(shipped_model_dir())
            models.install(shipped_model_dir(), live)
        else:
            live = models.load(live_version)
        if candidate.version == live.version:
            raise PromotionError(f"{candidate.version} is live already")
        measured = {
            name: {
                "live": figures(_with(classifier, live), records),
                "candidate": figures(_with(classifier, candidate), records),
            }
            for name, records in sets.items()
        }
        verdict = judge(
            {n: m["live"] for n, m in measured.items()},
            {n: m["candidate"] for n, m in measured.items()},
        )
        entry = {
            "action": Action.PROMOTE.value,
            "promoted": verdict.accepted,
            "at": _now(),
            "by": by,
            "before": _describe(live),
            "after": _describe(candidate),
            "candidate": str(candidate_dir),
            "ruleset": classifier.ruleset.version,
            "figures": measured,
            "reasons": list(verdict.reasons),
        }
        if verdict.accepted:
            models.install(candidate_dir, candidate)
            models.point_live_at(candidate.version)
        else:
            entry["action"] = Action.REFUSED.value
        models.append(entry)
        return entry


def rollback(models: ModelsDirectory, *, by: str) -> dict[str, Any]:
    """Point the live link back at the model live before the last promotion, and log it."""
    with models.locked():
        live_version = models.live_version()
        stack = models.live_stack()
        if live_version is None or len(stack) < 2:
            raise PromotionError("no promotion to roll back")
        if stack[-1] != live_version:
            raise PromotionError(
                f"the live link points at {live_version}, the promotions log at {stack[-1]}:"
                " the link was moved by hand; move it back or promote"
            )
        target = models.load(stack[-2])  # refused here if the file no longer passes its check
        current = models.load(live_version)
        models.point_live_at(target.version)
        entry = {
            "action": Action.ROLLBACK.value,
            "at": _now(),
            "by": by,
            "before": _describe(current),
            "after": _describe(target),
        }
        models.append(entry)
        return entry


def _with(classifier: Classifier, model: TextModel) -> Classifier:
    return replace(classifier, model=model)
