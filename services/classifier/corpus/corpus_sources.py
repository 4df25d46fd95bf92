"""Reading each source's labelled posts out of a fetched git repository at its pinned commit.

One reader per layout (HumAID, CrisisNLP, and plain CSV/TSV tables); a
reserved event's files are never opened, and each reader notes what it read
in the source's `SourceReport`. Used by build.py beside it.
"""

from __future__ import annotations

import csv
import io
import subprocess
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus_records import RawRecord

from switchboard_classifier.reserved import reserved_event_id


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


def _readable_events(source: dict[str, Any], report: SourceReport) -> Iterator[tuple[str, Any]]:
    """Each event of the source with its spec; a reserved one is only noted as never read, its files unopened."""
    for event, spec in source["events"].items():
        if reserved_event_id(event) is not None:
            report.events_never_read.append(event)
            continue
        yield event, spec
    report.events_never_read.extend(source.get("reserved_events_never_read", []))


def _event_records(
    text: str,
    source: dict[str, Any],
    event: str,
    lang: str,
    hazard: str,
    *,
    quoted_ids: bool = False,
) -> Iterator[RawRecord]:
    """The records of one event's TSV file, each id prefixed with the event (`quoted_ids`: ids in '...')."""
    for row in _tsv_rows(text):
        tweet_id = row[source["id_column"]].strip()
        if quoted_ids:
            tweet_id = tweet_id.strip("'")
        yield RawRecord(
            record_id=f"{event}/{tweet_id}",
            text=row[source["text_column"]] or "",
            label=(row[source["label_column"]] or "").strip(),
            lang=lang,
            event=event,
            hazard=hazard,
        )


def read_humaid(git_dir: Path, source: dict[str, Any], report: SourceReport) -> Iterator[RawRecord]:
    """HumAID: one TSV per event and split; reserved events are skipped before their files are opened."""
    for event, hazard in _readable_events(source, report):
        for split in source["splits"]:
            text = git_show(
                git_dir, source["commit"], source["path"].format(event=event, split=split)
            )
            yield from _event_records(text, source, event, source["lang"], hazard)


def read_crisisnlp(
    git_dir: Path, source: dict[str, Any], report: SourceReport
) -> Iterator[RawRecord]:
    """CrisisNLP LREC 2016: one TSV per event with its own language; reserved events are never opened."""
    for event, spec in _readable_events(source, report):
        text = git_show(git_dir, source["commit"], f"{source['base']}/{spec['path']}")
        yield from _event_records(
            text, source, event, spec["lang"], spec["hazard"], quoted_ids=True
        )


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
