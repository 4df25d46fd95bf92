"""One labelled post of a source, and the corpus record the mapping makes of it.

Text cleaning, the key that finds the same post twice, the first-hand and
violent-word cues, and the mapping of a source's label to urgency, topics and
provenance (mapping.yaml says which). Used by build.py beside it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from switchboard_classifier.reserved import fold

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
