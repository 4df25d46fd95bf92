"""The development set the thresholds were tuned on (docs/incidents.md): fifteen
reports of one warehouse fire in many wordings, and fifteen unrelated mentions from
the same district in the same hour, some of them also about fires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from switchboard_router.incidents import similarity
from switchboard_router.incidents.clustering import (
    Candidate,
    ClusteringConfig,
    Link,
    Mention,
    Place,
    decide,
)
from switchboard_shared.events import Urgency

T0 = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
DISTRICT = "harbour"

WAREHOUSE_FIRE = [
    "Huge fire at the warehouse on Dock Street, black smoke everywhere",
    "There is a massive fire at the Dock Street warehouse right now",
    "warehouse on dock st is on fire!! flames through the roof",
    "Smoke pouring out of the big warehouse by the docks, looks like a fire",
    "Fire engines racing to the warehouse fire on Dock Street",
    "The whole warehouse at Dock Street is burning, stay away #fire",
    "huge flames at the dock street warehouse, fire spreading to the roof",
    "Can see the warehouse fire on Dock St from across the harbour",
    "Warehouse fire Dock Street - thick black smoke over the harbour",
    "Is anyone else seeing the fire at the warehouse near the docks?",
    "Explosions heard inside the burning warehouse on Dock Street",
    "Firefighters at the Dock Street warehouse, the fire is still burning",
    "My office is next to the warehouse on Dock Street and it is on fire",
    "dock street warehouse fire, road closed, smoke in the whole area",
    "Fire at the old warehouse on Dock Street, people evacuating nearby",
]

UNRELATED = [
    ("Kitchen fire at a flat on Elm Road, small, already out", ("fire",)),
    ("Fire alarm test at the harbour school this morning, nothing to worry about", ("fire",)),
    ("Bonfire on the beach tonight, bring snacks", ("fire",)),
    ("Car crash at the roundabout on Harbour Road, two cars involved", ("traffic",)),
    ("Traffic lights out at Queen Street junction", ("traffic",)),
    ("Street lamp broken outside number 12 Mill Lane", ("infrastructure",)),
    ("Lost dog near the marina, brown terrier answers to Max", ("other",)),
    ("Loud music from the pub on Quay Street after midnight again", ("noise",)),
    ("Someone keeps dumping rubbish behind the fish market", ("other",)),
    ("Water leaking from a pipe on Ferry Lane, the pavement is flooded", ("flood",)),
    ("Bus 14 has not come for forty minutes at the harbour stop", ("traffic",)),
    ("Burning smell from a bin fire behind the supermarket on King Street", ("fire",)),
    ("Graffiti on the wall of the library again", ("other",)),
    ("Pothole on Harbour Road is getting dangerous for cyclists", ("traffic",)),
    ("Suspicious van parked outside the primary school for hours", ("crime",)),
]


def mention(item_id, text, topics, minutes, *, district=DISTRICT, config=None):
    config = config or ClusteringConfig.load()
    normalised = similarity.normalise(text)
    return Mention(
        item_id=item_id,
        source="x",
        source_id=str(item_id),
        received_at=T0 + timedelta(minutes=minutes),
        urgency=Urgency.HIGH,
        topics=frozenset(topics),
        place=Place(districts=frozenset({district}) if district else frozenset()),
        vector=similarity.vector(normalised, keep=config.features_kept),
        simhash=similarity.simhash(normalised),
        word_count=len(similarity.words(normalised)),
    )


def cluster(mentions, config):
    """The router's incremental clustering, in memory: item id -> group (its incident, or
    itself when lone), and the suggested links."""
    group: dict[int, int] = {}
    members: dict[int, list[Mention]] = {}
    suggested = []
    for m in mentions:
        candidates = []
        for key, ms in members.items():
            candidates.append(
                Candidate(
                    incident_id=key if len(ms) > 1 else None,
                    item_ids=tuple(x.item_id for x in ms),
                    topics=frozenset().union(*(x.topics for x in ms)),
                    last_seen=max(x.received_at for x in ms),
                    place=Place(districts=frozenset().union(*(x.place.districts for x in ms))),
                    vector=similarity.centroid(x.vector for x in ms),
                    simhashes=tuple(x.simhash for x in ms),
                    posts=frozenset(),
                )
            )
        decision = decide(m, candidates, config)
        if decision is not None and decision.link is Link.AUTOMATIC:
            key = decision.candidate.incident_id or decision.candidate.item_ids[0]
            members[key].append(m)
            group[m.item_id] = key
        else:
            if decision is not None:
                suggested.append((m.item_id, decision.candidate.item_ids))
            members[m.item_id] = [m]
            group[m.item_id] = m.item_id
    return group, suggested


def dev_set(config):
    mentions = [
        mention(i + 1, text, ("fire",), 2 * i, config=config)
        for i, text in enumerate(WAREHOUSE_FIRE)
    ]
    mentions += [
        mention(100 + i, text, topics, 2 * i + 1, config=config)
        for i, (text, topics) in enumerate(UNRELATED)
    ]
    return sorted(mentions, key=lambda m: m.received_at)


def test_the_fire_reports_gather_in_one_incident_and_no_unrelated_mention_joins_it():
    config = ClusteringConfig.load()
    group, _ = cluster(dev_set(config), config)
    fire_groups = [group[i + 1] for i in range(len(WAREHOUSE_FIRE))]
    biggest = max(set(fire_groups), key=fire_groups.count)
    # Recall on the development set: at least 13 of the 15 reports in the main incident.
    assert fire_groups.count(biggest) >= 13, fire_groups
    # Precision: none of the unrelated mentions is linked automatically to anything.
    assert all(group[100 + i] == 100 + i for i in range(len(UNRELATED)))
    assert all(group[100 + i] != biggest for i in range(len(UNRELATED)))


def test_a_stricter_threshold_gathers_fewer_reports():
    # The figure above depends on the threshold: raise it and the incident falls apart.
    strict = ClusteringConfig.load().model_copy(update={"attach": 0.9, "suggest": 0.9})
    group, _ = cluster(dev_set(strict), strict)
    fire_groups = [group[i + 1] for i in range(len(WAREHOUSE_FIRE))]
    assert max(fire_groups.count(g) for g in set(fire_groups)) < 13
