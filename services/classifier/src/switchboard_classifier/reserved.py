"""The reserved-evaluation filter: which records must never reach training or tuning.

Some data is kept apart so that it can measure the classifier honestly: TREC-IS (every year), CrisisLex
(T6, T26), the Mumbai Police tweets data set, and posts about six events from any source — the 2016 Fort
McMurray wildfire, the 2016/2017 Dallas police shooting, Hurricane Florence 2018, the 2013 Bohol earthquake, the
2019 Chocó flood and the 2014 South Napa earthquake. A record is dropped when its provenance names a reserved
data set, when its source's event id names a reserved event, or when its text names a reserved event (by name,
hashtag, or a place of the event together with its hazard), in English or Spanish.

The filter errs towards dropping: losing a few training records about, say, a later Alberta wildfire costs
little, while one reserved record in training would make the held-out figures dishonest. It is pure (no I/O) so
that the corpus build, the trainer and the tests can all call it.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass


class ReservedEvent(enum.StrEnum):
    """The events and data sets held out for independent evaluation."""

    FORT_MCMURRAY_WILDFIRE_2016 = "fort_mcmurray_wildfire_2016"
    DALLAS_POLICE_SHOOTING = "dallas_police_shooting"
    HURRICANE_FLORENCE_2018 = "hurricane_florence_2018"
    BOHOL_EARTHQUAKE_2013 = "bohol_earthquake_2013"
    CHOCO_FLOOD_2019 = "choco_flood_2019"
    SOUTH_NAPA_EARTHQUAKE_2014 = "south_napa_earthquake_2014"
    TREC_IS = "trec_is"
    CRISISLEX = "crisislex"
    MUMBAI_POLICE_TWEETS = "mumbai_police_tweets"


class MatchBasis(enum.StrEnum):
    """What in the record matched: its data set, its source's event id, or its text."""

    DATASET = "dataset"
    EVENT_ID = "event_id"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class ReservedMatch:
    """Why a record is reserved."""

    event: ReservedEvent
    basis: MatchBasis


def fold(text: str) -> str:
    """Lower-case and strip accents, so "Chocó", "CHOCO" and "choco" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _identifier(value: str) -> str:
    """A data set or event name as lower-case words joined by "_" ("CrisisLexT26" -> "crisislext26")."""
    return re.sub(r"[^a-z0-9]+", "_", fold(value)).strip("_")


# Data sets reserved whole, matched on the provenance data set or repository name.
_RESERVED_DATASETS: tuple[tuple[re.Pattern[str], ReservedEvent], ...] = (
    (re.compile(r"trec_?is|trecis|incident_?streams?"), ReservedEvent.TREC_IS),
    (re.compile(r"crisis_?lex"), ReservedEvent.CRISISLEX),
    (
        re.compile(r"pratiksha_naikk|twitter_data_analysis_to_identify_urban_issues|mumbai_police"),
        ReservedEvent.MUMBAI_POLICE_TWEETS,
    ),
)

# Event ids as sources name them (HumAID folders such as "canada_wildfires_2016", CrisisNLP's
# "2014_California_Earthquake" — the South Napa earthquake of 24 August 2014 — and the like).
_RESERVED_EVENT_IDS: tuple[tuple[re.Pattern[str], ReservedEvent], ...] = (
    (
        re.compile(
            r"canada_wildfires?_2016|2016_canada_wildfires?|fort_?mc_?murray|ymm_?fire|alberta_wildfires?_2016"
        ),
        ReservedEvent.FORT_MCMURRAY_WILDFIRE_2016,
    ),
    (re.compile(r"dallas_(police_)?shooting|dallas_ambush"), ReservedEvent.DALLAS_POLICE_SHOOTING),
    (re.compile(r"florence"), ReservedEvent.HURRICANE_FLORENCE_2018),
    (re.compile(r"bohol"), ReservedEvent.BOHOL_EARTHQUAKE_2013),
    (re.compile(r"choco"), ReservedEvent.CHOCO_FLOOD_2019),
    (
        re.compile(r"napa|2014_california_(earthquake|eq)|california_(earthquake|eq)_2014"),
        ReservedEvent.SOUTH_NAPA_EARTHQUAKE_2014,
    ),
)

_QUAKE = r"(earth)?quakes?|tremors?|aftershocks?|temblor(es)?|sismos?|terremotos?|lindol|magnitude|richter|shaking"
_FIRE = (
    r"(wild)?fires?|blazes?|burn(ing|ed|s)?|evacuat\w*|incendios?|fuego|llamas|evacua\w*|smoke|humo"
)
_FLOOD = (
    r"floods?|flooding|flooded|inundaci\w*|inundad\w*|lluvias?|aguaceros?|desbord\w*|crecientes?|"
    r"damnificad\w*|emergencia|calamidad|avalanchas?|deslizamientos?|rains?|overflow\w*"
)
_STORM = r"hurricanes?|huracan(es)?|storms?|tormentas?|landfall|ciclon(es)?|tropical|surge|cat(egory)?\s*\d"
_SHOOTING = (
    r"shoot\w*|shot|shots|gunm[ae]n|gunfire|sniper\w*|ambush\w*|killed|slain|murder\w*|massacre|"
    r"tiroteo\w*|balacera|disparos?|dispar\w*|francotirador\w*|emboscada|asesinad\w*|muertos?|abatid\w*"
)
_POLICE = r"police|officers?|cops?|dpd|policias?|policia|agentes|oficiales"


def _near(first: str, second: str, gap: int = 80) -> re.Pattern[str]:
    """`first` and `second` (either order) within `gap` characters of each other."""
    return re.compile(
        rf"(?:\b(?:{first})\b.{{0,{gap}}}\b(?:{second})\b|\b(?:{second})\b.{{0,{gap}}}\b(?:{first})\b)"
    )


# How near an event's name or place must stand to words of what happened, in characters.
_PLACE_GAP = 120


def _place_near(place: str, what: str) -> re.Pattern[str]:
    """An event's name or place within `_PLACE_GAP` characters of words of what happened."""
    return _near(place, what, gap=_PLACE_GAP)


# Text patterns over folded text (lower case, no accents), by event. Hashtags are matched without the "#" too
# where the tag is the event's own name ("fortmcmurray"), since copies of tweets often lose the "#". A place of
# the event counts only near words of what happened there.
_TEXT_BY_EVENT: dict[ReservedEvent, tuple[re.Pattern[str], ...]] = {
    ReservedEvent.FORT_MCMURRAY_WILDFIRE_2016: (
        re.compile(
            r"fort\s*mc\s*murray|fortmcmurray|\bymm\s*fire|#ymm\b|#fmfire|#fortmacfire|#fortmac\b"
        ),
        re.compile(r"horse\s*river\s*(wild)?fire|wood\s*buffalo"),
        _near(r"fort\s*mac|alberta|albertan?s?|slave\s*lake|anzac|lac\s*la\s*biche", _FIRE),
    ),
    ReservedEvent.DALLAS_POLICE_SHOOTING: (
        re.compile(
            r"dallaspoliceshooting|dallasshooting|prayfordallas|dallasambush|dallasstrong|"
            r"micah\s*(xavier\s*)?johnson"
        ),
        re.compile(rf"^(?=.*\bdallas\b)(?=.*\b(?:{_POLICE})\b)(?=.*\b(?:{_SHOOTING})\b)"),
    ),
    ReservedEvent.HURRICANE_FLORENCE_2018: (
        re.compile(r"hurricaneflorence|florence2018|tsflorence|#florence\b|huracanflorence"),
        _place_near(
            r"florence", _STORM + "|" + _FLOOD + r"|wilmington|carolinas?|new\s*bern|lumberton"
        ),
    ),
    ReservedEvent.BOHOL_EARTHQUAKE_2013: (
        re.compile(r"boholearthquake|boholquake|prayforbohol|bohol\s*eq\b|#bohol"),
        _place_near(
            r"bohol|boholanos?|tagbilaran|loboc|loon|baclayon|maribojoc|cebu|visayas?", _QUAKE
        ),
    ),
    ReservedEvent.CHOCO_FLOOD_2019: (
        re.compile(r"#choco\b|fuerzachoco|soschoco|prayforchoco|chocoinundado"),
        _place_near(
            r"choco|quibdo|atrato|istmina|tado|condoto|medio\s*san\s*juan|bajo\s*baudo|baudo|litoral\s*del\s*san\s*juan",
            _FLOOD,
        ),
    ),
    ReservedEvent.SOUTH_NAPA_EARTHQUAKE_2014: (
        re.compile(
            r"napaearthquake|napaquake|southnapa|south\s*napa|napastrong|bayareaearthquake|bayareaquake|"
            r"#sfquake\b"
        ),
        _place_near(r"napa|american\s*canyon|vallejo|sonoma|bay\s*area", _QUAKE),
    ),
}
_RESERVED_TEXT: tuple[tuple[re.Pattern[str], ReservedEvent], ...] = tuple(
    (pattern, event) for event, patterns in _TEXT_BY_EVENT.items() for pattern in patterns
)


def reserved_dataset(dataset: str = "", repository: str = "") -> ReservedEvent | None:
    """The reserved data set a provenance names, if any."""
    for name in (dataset, repository):
        ident = _identifier(name)
        if not ident:
            continue
        for pattern, event in _RESERVED_DATASETS:
            if pattern.search(ident):
                return event
    return None


def reserved_event_id(event_id: str) -> ReservedEvent | None:
    """The reserved event a source's event id (folder or file name) names, if any."""
    ident = _identifier(event_id)
    if not ident:
        return None
    for pattern, event in _RESERVED_EVENT_IDS:
        if pattern.search(ident):
            return event
    return None


def reserved_text(text: str) -> ReservedEvent | None:
    """The reserved event a post's text names, if any."""
    folded = " ".join(fold(text).split())
    for pattern, event in _RESERVED_TEXT:
        if pattern.search(folded):
            return event
    return None


def reserved_match(
    text: str, *, dataset: str = "", repository: str = "", event_id: str = ""
) -> ReservedMatch | None:
    """Why a record is reserved (data set first, then event id, then text), or None when it may be used."""
    by_dataset = reserved_dataset(dataset, repository)
    if by_dataset is not None:
        return ReservedMatch(by_dataset, MatchBasis.DATASET)
    by_event = reserved_event_id(event_id)
    if by_event is not None:
        return ReservedMatch(by_event, MatchBasis.EVENT_ID)
    by_text = reserved_text(text)
    if by_text is not None:
        return ReservedMatch(by_text, MatchBasis.TEXT)
    return None


def is_reserved_record(record: dict[str, object]) -> bool:
    """Whether a corpus record (the shared JSON-lines format) must be kept out of training."""
    provenance = record.get("provenance")
    prov = provenance if isinstance(provenance, dict) else {}
    return (
        reserved_match(
            str(record.get("text", "")),
            dataset=str(prov.get("dataset", "")),
            repository=str(prov.get("repository", "")),
            event_id=str(prov.get("event", "")),
        )
        is not None
    )
