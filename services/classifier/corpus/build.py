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

The reading of each source is in corpus_sources.py, the mapping of one post to a record in corpus_records.py
(both beside this script); here the sources are put together, capped and written.

Usage (from the repository root, with the project's environment):

    .venv/bin/python services/classifier/corpus/build.py \
        --source humaid=/work/.mirror/anhtranst+humaid/repo \
        --source crisisnlp_lrec2016=/work/.mirror/SusuXu-s-Lab+Hierarchical-Earthquake-Casualty-Information-Retrieval/repo \
        --source davidson_hate_offensive=/work/.mirror/t-davidson+hate-speech-and-offensive-language/repo \
        --source complaints=/work/.mirror/danielpreotiuc+complaints-social-media/repo
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from switchboard_classifier.reserved import reserved_match

# The build's own modules sit beside it; a script run, or a test loading it by path, finds them here.
sys.path.append(str(Path(__file__).resolve().parent))

from corpus_records import Cues, dedup_key, map_record
from corpus_records import RawRecord as RawRecord  # the build's tests know it as build's
from corpus_records import clean_text as clean_text  # likewise
from corpus_sources import READERS, SourceReport, check_commit, read_table_source

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]
MAPPING_PATH = HERE / "mapping.yaml"
CORPUS_PATH = HERE / "corpus.jsonl"
MANIFEST_PATH = HERE / "manifest.json"
DEFAULT_FULL_OUT = HERE / "build" / "corpus-full.jsonl"
URGENT = ("critical", "high")
URGENCY_ORDER = ("critical", "high", "normal", "low")


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
