"""Build the classifier's training corpus from public labelled data sets and the gold training split.

Reads each source straight out of a fetched git repository at the commit pinned in mapping.yaml
(`git --git-dir DIR show COMMIT:PATH`), maps its labels to Switchboard's urgency and topics by mapping.yaml,
drops every record the reserved-evaluation filter matches (and never opens a reserved event's files), removes
duplicates, caps each source, and writes:

* corpus.jsonl — the records whose licence allows committing the text (the gold training split and the
  permissively licensed sources), committed beside this script;
* the full corpus (every source, including those whose licence allows only ids to be shared) to --full-out,
  outside the repository's tracked files, for training on this machine;
* manifest.json — per source: repository, commit, licence, counts (read, dropped by label, dropped by the
  reserved filter per event, duplicates, capped, kept) and the record ids kept; the sha256 of both corpora.

Usage (from the repository root, with the project's environment):

    .venv/bin/python services/classifier/corpus/build.py \
        --source humaid=/work/.mirror/anhtranst+humaid/repo \
        --source crisisnlp_lrec2016=/work/.mirror/SusuXu-s-Lab+Hierarchical-Earthquake-Casualty-Information-Retrieval/repo \
        --source davidson_hate_offensive=/work/.mirror/t-davidson+hate-speech-and-offensive-language/repo \
        --source complaints=/work/.mirror/danielpreotiuc+complaints-social-media/repo
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import html
import io
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from switchboard_classifier.reserved import fold, reserved_event_id, reserved_match

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]
MAPPING_PATH = HERE / "mapping.yaml"
CORPUS_PATH = HERE / "corpus.jsonl"
MANIFEST_PATH = HERE / "manifest.json"
DEFAULT_FULL_OUT = HERE / "build" / "corpus-full.jsonl"
URGENT = ("critical", "high")
URGENCY_ORDER = ("critical", "high", "normal", "low")

_HANDLE = re.compile(r"@\w{1,15}")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class RawRecord:
    """One labelled post as the source has it."""

    record_id: str
    text: str
    label: str
    lang: str
    event: str = ""
    hazard: str = ""
    keyword: str = ""


@dataclass
class SourceReport:
    """What the build did with one source."""

    read: int = 0
    dropped_label: Counter[str] = field(default_factory=Counter)
    dropped_reserved: Counter[str] = field(default_factory=Counter)
    events_never_read: list[str] = field(default_factory=list)
    duplicates: int = 0
    capped: int = 0
    kept: list[dict[str, Any]] = field(default_factory=list)


class Cues:
    """The first-hand and violent-word cues of mapping.yaml, compiled once."""

    def __init__(self, mapping: dict[str, Any]) -> None:
        first_hand = mapping["first_hand"]
        self.person = {lang: re.compile(first_hand[lang]["person"]) for lang in ("en", "es")}
        self.need = {lang: re.compile(first_hand[lang]["need"]) for lang in ("en", "es")}
        self.relayed = [re.compile(p) for p in first_hand["not_first_hand"].values()]
        self.violent = re.compile(mapping["violent_words"]["pattern"])

    def first_hand(self, text: str, lang: str) -> bool:
        """Whether a post reads as the author's own call for help: first person, a need, nothing relayed."""
        folded = fold(text)
        person = self.person.get(lang, self.person["en"])
        need = self.need.get(lang, self.need["en"])
        return (
            bool(person.search(folded))
            and bool(need.search(folded))
            and not any(p.search(folded) for p in self.relayed)
        )

    def violent_words(self, text: str) -> bool:
        """Whether a post uses the words an emergency uses."""
        return bool(self.violent.search(fold(text)))


def clean_text(text: str) -> str:
    """Unescape HTML entities, replace @handles (personal data the classifier needs no part of), tidy spaces."""
    return _SPACE.sub(" ", _HANDLE.sub("@user", html.unescape(text))).strip()


def dedup_key(text: str) -> str:
    """Texts that differ only in case, accents, handles, links or a leading "RT" are the same post."""
    folded = fold(_HANDLE.sub("", text))
    folded = re.sub(r"https?://\S+", "", folded)
    folded = re.sub(r"^rt\b[: ]*", "", folded.strip())
    return re.sub(r"[^a-z0-9]+", " ", folded).strip()


def map_record(
    raw: RawRecord, source: dict[str, Any], cues: Cues, mapping_version: str
) -> dict[str, Any] | None:
    """The corpus record for one labelled post, or None when its label is mapped to `drop` or not mapped."""
    rule = source["labels"].get(raw.label)
    if rule is None or rule == "drop":
        return None
    text = clean_text(raw.text)
    urgency = rule["urgency"]
    if "first_hand_urgency" in rule and cues.first_hand(raw.text, raw.lang):
        urgency = rule["first_hand_urgency"]
    topics: list[str] = []
    for topic in rule["topics"]:
        if topic == "{hazard}":
            resolved = raw.hazard
        elif topic == "{keyword_topic}":
            resolved = keyword_topic(raw.keyword, source.get("keyword_topics", {}))
        else:
            resolved = topic
        if resolved and resolved not in topics:
            topics.append(resolved)
    hard_negative = urgency == "low" and (
        (bool(rule.get("hard_negative_if_violent")) and cues.violent_words(text))
        or (bool(rule.get("hard_negative_if_keyword")) and bool(raw.keyword))
    )
    provenance = {
        "dataset": source["dataset"],
        "repository": source["repository"],
        "commit": source["commit"],
        "record_id": raw.record_id,
        "licence": source["licence"],
        "mapping_version": mapping_version,
        "label": raw.label,
    }
    if raw.event:
        provenance["event"] = raw.event
    return {
        "text": text,
        "lang": raw.lang,
        "urgency": urgency,
        "topics": topics,
        "hard_negative": hard_negative,
        "provenance": provenance,
    }


def keyword_topic(keyword: str, table: dict[str, str]) -> str:
    """The topic of a source's search keyword ("forest%20fire" -> fire), by the first pattern that matches."""
    words = keyword.replace("%20", " ").casefold()
    for topic, pattern in table.items():
        if topic != "default" and re.search(pattern, words):
            return topic
    return table.get("default", "") if words else ""


def git_show(git_dir: Path, commit: str, path: str) -> str:
    """A file's text at a commit of a fetched repository."""
    result = subprocess.run(
        ["git", "--git-dir", str(git_dir), "show", f"{commit}:{path}"],
        check=True,
        capture_output=True,
    )
    return result.stdout.decode("utf-8", errors="replace")


def check_commit(git_dir: Path, commit: str) -> None:
    """Refuse a repository that lacks the pinned commit: the corpus must come from exactly that version."""
    result = subprocess.run(
        ["git", "--git-dir", str(git_dir), "cat-file", "-e", f"{commit}^{{commit}}"],
        capture_output=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"{git_dir} has no commit {commit}; fetch the repository the mapping pins")


def _tsv_rows(text: str) -> Iterator[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    yield from reader


def read_humaid(git_dir: Path, source: dict[str, Any], report: SourceReport) -> Iterator[RawRecord]:
    """HumAID: one TSV per event and split; reserved events are skipped before their files are opened."""
    for event, hazard in source["events"].items():
        if reserved_event_id(event) is not None:
            report.events_never_read.append(event)
            continue
        for split in source["splits"]:
            text = git_show(
                git_dir, source["commit"], source["path"].format(event=event, split=split)
            )
            for row in _tsv_rows(text):
                tweet_id = row[source["id_column"]].strip()
                yield RawRecord(
                    record_id=f"{event}/{tweet_id}",
                    text=row[source["text_column"]] or "",
                    label=(row[source["label_column"]] or "").strip(),
                    lang=source["lang"],
                    event=event,
                    hazard=hazard,
                )
    report.events_never_read.extend(source.get("reserved_events_never_read", []))


def read_crisisnlp(
    git_dir: Path, source: dict[str, Any], report: SourceReport
) -> Iterator[RawRecord]:
    """CrisisNLP LREC 2016: one TSV per event with its own language; reserved events are never opened."""
    for event, spec in source["events"].items():
        if reserved_event_id(event) is not None:
            report.events_never_read.append(event)
            continue
        text = git_show(git_dir, source["commit"], f"{source['base']}/{spec['path']}")
        for row in _tsv_rows(text):
            tweet_id = row[source["id_column"]].strip().strip("'")
            yield RawRecord(
                record_id=f"{event}/{tweet_id}",
                text=row[source["text_column"]] or "",
                label=(row[source["label_column"]] or "").strip(),
                lang=spec["lang"],
                event=event,
                hazard=spec["hazard"],
            )
    report.events_never_read.extend(source.get("reserved_events_never_read", []))


def read_table_source(
    git_dir: Path, source: dict[str, Any], report: SourceReport
) -> Iterator[RawRecord]:
    """CSV/TSV files, with or without a header; the row number is the id where the source has none."""
    files = source.get("files") or [{"path": source["path"], "lang": source["lang"]}]
    delimiter = "\t" if source["format"].startswith("tsv") else ","
    for spec in files:
        text = git_show(git_dir, source["commit"], spec["path"]).replace("\r\n", "\n")
        rows: Iterable[dict[str, str]]
        if source["format"].endswith("noheader"):
            reader = csv.reader(io.StringIO(text), delimiter=delimiter)
            rows = (dict(zip(source["columns"], r, strict=False)) for r in reader)
        else:
            dict_reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
            dict_reader.fieldnames = [f.strip() for f in dict_reader.fieldnames or []]
            rows = dict_reader
        prefix = f"{spec['subset']}/" if spec.get("subset") else ""
        for number, row in enumerate(rows):
            id_column = source["id_column"]
            record_id = (row.get(id_column) or "").strip() if id_column else f"row{number}"
            yield RawRecord(
                record_id=prefix + (record_id or f"row{number}"),
                text=row.get(source["text_column"]) or "",
                label=(row.get(source["label_column"]) or "").strip(),
                lang=spec["lang"],
                keyword=(row.get(source.get("keyword_column", "")) or "").strip(),
            )


READERS = {"humaid": read_humaid, "crisisnlp_lrec2016": read_crisisnlp}


def gold_records(source: dict[str, Any], mapping_version: str) -> tuple[list[dict[str, Any]], str]:
    """The gold training split with provenance; the commit is the last one that changed the file."""
    path = REPO_ROOT / source["path"]
    commit = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "log", "-1", "--format=%H", "--", source["path"]],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        record["provenance"] = {
            "dataset": source["dataset"],
            "repository": source["repository"],
            "commit": commit or "uncommitted",
            "record_id": f"gold_train:{number}",
            "licence": source["licence"],
            "mapping_version": mapping_version,
        }
        records.append(record)
    return records, hashlib.sha256(path.read_bytes()).hexdigest()


def _id_order(record: dict[str, Any]) -> str:
    return hashlib.sha256(record["provenance"]["record_id"].encode()).hexdigest()


def cap_records(
    records: list[dict[str, Any]], cap: int, urgent_share_max: float
) -> tuple[list[dict[str, Any]], int]:
    """At most `cap` records per language: urgent ones first (up to a share of the cap), then the rest.

    Within each part the order is fixed and pseudo-random (sha256 of the record id), so a rebuild keeps the
    same records.
    """
    by_lang: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_lang[record["lang"]].append(record)
    kept: list[dict[str, Any]] = []
    capped = 0
    for lang in sorted(by_lang):
        group = sorted(by_lang[lang], key=_id_order)
        urgent = [r for r in group if r["urgency"] in URGENT][: int(cap * urgent_share_max)]
        chosen = {id(r) for r in urgent}
        rest = [r for r in group if id(r) not in chosen][: cap - len(urgent)]
        kept.extend(urgent + rest)
        capped += len(group) - len(urgent) - len(rest)
    return kept, capped


def build_source(
    name: str,
    source: dict[str, Any],
    git_dir: Path,
    cues: Cues,
    mapping: dict[str, Any],
    seen: set[str],
) -> SourceReport:
    """Read, map, filter, de-duplicate and cap one third-party source."""
    check_commit(git_dir, source["commit"])
    report = SourceReport()
    reader = READERS.get(name, read_table_source)
    mapped: list[dict[str, Any]] = []
    for raw in reader(git_dir, source, report):
        report.read += 1
        match = reserved_match(
            raw.text, dataset=source["dataset"], repository=source["repository"], event_id=raw.event
        )
        if match is not None:
            report.dropped_reserved[match.event.value] += 1
            continue
        record = map_record(raw, source, cues, mapping["mapping_version"])
        if record is None or len(record["text"]) < 3:
            report.dropped_label[raw.label or "(empty)"] += 1
            continue
        key = dedup_key(record["text"])
        if not key or key in seen:
            report.duplicates += 1
            continue
        seen.add(key)
        mapped.append(record)
    cap = int(source.get("cap_per_language", mapping["cap_per_source_language"]))
    report.kept, report.capped = cap_records(mapped, cap, float(mapping["urgent_share_max"]))
    report.kept.sort(key=lambda r: r["provenance"]["record_id"])
    return report


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> str:
    """Write records one per line (stable key order) and return the file's sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def breakdown(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Counts by language and urgency."""
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for record in records:
        table[record["lang"]][record.get("urgency", "unlabelled")] += 1
    return {lang: dict(sorted(counts.items())) for lang, counts in sorted(table.items())}


def parse_sources(values: list[str]) -> dict[str, Path]:
    """NAME=GIT_DIR pairs from the command line."""
    sources = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep:
            raise SystemExit(f"--source wants NAME=GIT_DIR, got {value!r}")
        sources[name] = Path(path)
    return sources


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--source", action="append", default=[], help="NAME=GIT_DIR of a fetched repository"
    )
    parser.add_argument(
        "--full-out", type=Path, default=DEFAULT_FULL_OUT, help="where the full corpus goes"
    )
    parser.add_argument(
        "--corpus-out", type=Path, default=CORPUS_PATH, help="the committable corpus"
    )
    parser.add_argument("--manifest-out", type=Path, default=MANIFEST_PATH)
    args = parser.parse_args(argv)

    mapping = yaml.safe_load(MAPPING_PATH.read_text(encoding="utf-8"))
    version = mapping["mapping_version"]
    cap = int(mapping["cap_per_source_language"])
    cues = Cues(mapping)
    given = parse_sources(args.source)
    third_party = {name: s for name, s in mapping["sources"].items() if name != "gold"}
    missing = sorted(set(third_party) - set(given))
    unknown = sorted(set(given) - set(third_party))
    if missing or unknown:
        raise SystemExit(
            f"sources missing: {missing}, unknown: {unknown}; every source of mapping.yaml is needed"
        )

    gold_source = mapping["sources"]["gold"]
    gold, gold_sha = gold_records(gold_source, version)
    seen: set[str] = set()
    gold_report = SourceReport(read=len(gold))
    for record in gold:
        if reserved_match(record["text"]) is not None:
            gold_report.dropped_reserved["gold"] += 1
            continue
        seen.add(dedup_key(record["text"]))
        gold_report.kept.append(record)

    reports = {"gold": gold_report}
    for name, source in third_party.items():
        reports[name] = build_source(name, source, given[name], cues, mapping, seen)

    committable = [
        r
        for name, rep in reports.items()
        for r in rep.kept
        if mapping["sources"][name]["committable"]
    ]
    everything = [r for rep in reports.values() for r in rep.kept]
    corpus_sha = write_jsonl(args.corpus_out, committable)
    full_sha = write_jsonl(args.full_out, everything)

    manifest: dict[str, Any] = {
        "mapping_version": version,
        "cap_per_source_language": cap,
        "corpus": {
            "path": "corpus.jsonl",
            "records": len(committable),
            "sha256": corpus_sha,
            "by_dataset": dict(Counter(r["provenance"]["dataset"] for r in committable)),
        },
        "full_corpus": {
            "note": "not committed: includes sources whose licence allows sharing ids only; rebuild with build.py",
            "records": len(everything),
            "sha256": full_sha,
        },
        "sources": {},
    }
    for name, rep in reports.items():
        source = mapping["sources"][name]
        manifest["sources"][name] = {
            "dataset": source["dataset"],
            "repository": source["repository"],
            "commit": source.get("commit")
            or (rep.kept[0]["provenance"]["commit"] if rep.kept else ""),
            "licence": source["licence"],
            "text_committed": bool(source["committable"]),
            "read": rep.read,
            "dropped_unmapped_label": dict(sorted(rep.dropped_label.items())),
            "dropped_reserved": dict(sorted(rep.dropped_reserved.items())),
            "reserved_events_never_read": sorted(set(rep.events_never_read)),
            "duplicates": rep.duplicates,
            "capped": rep.capped,
            "kept": len(rep.kept),
            "by_language_urgency": breakdown(rep.kept),
            "record_ids": [r["provenance"]["record_id"] for r in rep.kept],
        }
        if name == "gold":
            manifest["sources"][name]["file_sha256"] = gold_sha
    args.manifest_out.write_text(
        json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )

    print(f"mapping {version}: committable corpus {len(committable)} records sha256 {corpus_sha}")
    print(f"full corpus {len(everything)} records sha256 {full_sha} -> {args.full_out}")
    print(
        f"{'source':26} {'read':>6} {'label-drop':>10} {'reserved':>8} {'dup':>6} {'capped':>6} {'kept':>6}"
    )
    for name, rep in reports.items():
        reserved = sum(rep.dropped_reserved.values())
        print(
            f"{name:26} {rep.read:6} {sum(rep.dropped_label.values()):10} {reserved:8} "
            f"{rep.duplicates:6} {rep.capped:6} {len(rep.kept):6}  reserved={dict(rep.dropped_reserved)}"
            f" never-read={sorted(set(rep.events_never_read))}"
        )
    print(f"{'source':26} {'lang':4} " + " ".join(f"{u:>8}" for u in URGENCY_ORDER))
    for name, rep in reports.items():
        for lang, counts in breakdown(rep.kept).items():
            print(f"{name:26} {lang:4} " + " ".join(f"{counts.get(u, 0):8}" for u in URGENCY_ORDER))
    return 0


if __name__ == "__main__":
    sys.exit(main())
