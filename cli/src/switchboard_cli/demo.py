"""Realistic demo mentions for `make run`, drills and benchmarks.

Written by hand to look like what an agency's feeds carry: mostly chatter,
praise and questions, some nuisance and property reports, and now and then a
real emergency. Each call to `demo_mentions` shuffles them with authors,
districts and sources so a feed never repeats exactly.

Now and then many people report one event: a burst of reports of it (one
district, different authors and wording, a few seconds apart at the demo's
rate; some quote or repost the first one) runs through the feed, so the console shows a multi-member incident
within the first minutes and a new one every few minutes after.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

TEXTS: tuple[str, ...] = (
    "Shots fired near 5th and Main right now, people are running into the Shell station",
    "someone just got stabbed outside the bar on Delancey, need an ambulance NOW",
    "There's a guy waving a gun in the parking lot of the Kroger on Pine, I'm hiding in my car",
    "HELP my neighbor collapsed in his driveway and he's not breathing",
    "House on fire on Oak Street, flames coming out of the second floor windows",
    "Hay un tiroteo en la calle 8, escuché como diez disparos ahora mismo",
    "Car crash on the Route 9 bridge, two cars, one flipped over, people still inside",
    "My 7 year old son is missing, last seen at Riverside Park near the playground 20 minutes ago",
    "Someone broke into my car last night on Elm St and took my laptop bag",
    "Third catalytic converter stolen on our block this month. Anything being done?",
    "Suspicious guy going down the street trying door handles on every car, Maple and 3rd",
    "Power lines down across Cedar Ave after the storm, sparking on the sidewalk",
    "Flooding on Harbor Rd again, water is up to the car doors",
    "Loud party next door again, it's 2am and the bass is shaking my windows",
    "Fireworks all night again on Lincoln St, my dog is terrified",
    "Traffic lights out at Broadway and 12th, it's chaos",
    "Huge pothole on Grand Ave eastbound lane, already saw two flat tires",
    "Street lights not working on the whole 400 block of Walnut, it's pitch dark",
    "How do I get a copy of a police report for my insurance claim?",
    "What's going on at the corner of 4th and Birch? Lots of police cars",
    "Is there a non-emergency number I can call about an abandoned car?",
    "Thank you to the officers who helped my grandma when she fell at the bus stop today",
    "Huge shout out to the police department for the toy drive, my kids loved it",
    "Coffee with a cop this Saturday at Rosie's Diner, come say hi!",
    "Great job by dispatch last night, they stayed on the line with me until help came",
    "The officer who pulled me over was really rude and refused to give his badge number",
    "I want to file a complaint about an officer speeding through a school zone without lights",
    "this new album is fire 🔥🔥",
    "killing it at the fundraiser tonight, proud of our team",
    "I'm dying lol this meme about parking tickets",
    "He's on fire tonight, 40 points already",
    "Shooting hoops at Jefferson park if anyone wants to join",
    "Watching the new cop show on Netflix, the chase scene was wild",
    "Gracias a la policía por ayudarnos después del accidente de ayer",
    "Mi vecino tiene la música muy fuerte toda la noche, ya no aguanto",
    "Road closed on Main between 1st and 3rd for the parade, use Oak instead",
    "Amber alert issued for a silver Honda Civic, plate 7KXP221",
    "Smell gas really strong in the hallway of our building on Spruce",
    "Two guys fighting outside the 7-Eleven on Market, one has a bat",
    "Someone is lurking in our backyard, I can see him from the window",
    "My elderly father with dementia hasn't come home, he walked out an hour ago",
    "Shots fired on Kent Ave earlier, no one was hurt, police already there",
    "Nice weather for the community clean up at the river tomorrow!",
    "Buy cheap followers now!!! link in bio",
    "The city council meeting about the new budget is on Thursday",
    "Just saw a hit and run at Lake and 9th, white van took off north",
    "Drunk driver swerving all over I-80 westbound near exit 12 right now",
    "Graffiti all over the new playground at Hillcrest, so sad",
    "Is the DMV on 2nd street open on Saturdays?",
    "Kudos to the deputies who found the lost hiker on Bear Mountain",
)


@dataclass(frozen=True)
class DemoEvent:
    """One event many people report: where it is and what they write about it."""

    district: str
    reports: tuple[str, ...]


EVENTS: tuple[DemoEvent, ...] = (
    DemoEvent(
        "harbor",
        (
            "Huge black smoke coming out of the cold storage warehouse on Harbor Rd, flames on the roof",
            "is that smoke near the docks?? the whole sky over the pier is black",
            "Fire at 300 Harbor Road warehouse, flames through the roof, send the fire dept",
            "warehouse by Harbor Pier fully engulfed, fire trucks just arriving",
            "Se está quemando una bodega en la calle Harbor, cerca del muelle",
            "the whole harbor smells like burning plastic, what is on fire??",
            "Harbor Rd closed at 3rd because of the warehouse fire, police turning cars around",
            "roof of the burning warehouse at Harbor Pier just collapsed, firefighters pulled back",
        ),
    ),
    DemoEvent(
        "eastside",
        (
            "Strong smell of gas in the lobby of Halden Towers, they are evacuating the building",
            "why is everyone standing outside Halden Towers? someone said gas leak",
            "Gas leak at Halden Towers, fire department is here and told us to stay back",
            "whole building at halden towers evacuated, smells like rotten eggs in the stairwell",
            "Fuga de gas en Halden Towers, sacaron a todos los vecinos a la calle",
            "Is it safe to go back into Halden Towers yet? We've been outside an hour",
        ),
    ),
    DemoEvent(
        "northside",
        (
            "Bad crash on Grand Ave at 2nd, three cars, one on its side",
            "multi car pileup grand and 2nd, people trapped in the silver car, need ambulance",
            "Grand Avenue blocked at 2nd Street because of a big accident, avoid the area",
            "just drove past the crash on grand ave, firefighters cutting someone out of a car",
            "Choque de tres carros en Grand y la 2, hay heridos",
            "Anyone know what happened at Grand and 2nd? Tons of ambulances",
            "the wreck at grand ave and 2nd st is still blocking both lanes",
        ),
    ),
)
# Mentions between the start of two bursts (about three minutes at the demo's 2/s), the
# mention the first burst starts at, and mentions between two reports of one burst.
BURST_EVERY = 400
BURST_FIRST = 5
BURST_SPACING = 12
# Reports of a burst that repost its first report word for word; the other odd-numbered
# ones quote it with their own words, the even ones are posts of their own.
REPOSTED = frozenset({6})
REPORTERS = (
    "dockside_dee",
    "halden_local",
    "marcus.t",
    "jenny_k",
    "cyclist_mo",
    "rosa.mtz",
    "night_shift_al",
    "tidewater_tom",
    "bex_runs",
)


def burst_report(serial: int) -> tuple[int, DemoEvent, int] | None:
    """(burst number, event, report number) when the `serial`-th mention of a feed is a
    report of a burst's event, else None."""
    since = serial - BURST_FIRST
    if since < 0:
        return None
    burst, offset = divmod(since, BURST_EVERY)
    number, between = divmod(offset, BURST_SPACING)
    event = EVENTS[burst % len(EVENTS)]
    if between or number >= len(event.reports):
        return None
    return burst, event, number


SOURCES = ("x", "facebook", "instagram", "reddit", "nextdoor", "bluesky", "mastodon", "app", "sms")
DISTRICTS = ("north", "south", "east", "west", "central", None, None)
HANDLES = (
    "maria_g",
    "jthompson",
    "night_owl_88",
    "pine_st_neighbor",
    "dad_of_three",
    "lucia.r",
    "runner_kate",
    "oldtowncafe",
    "benji",
    "watchful_eye",
    "ana.morales",
    "sam_k",
)


def demo_mentions(seed: int | None = None) -> Iterator[dict[str, Any]]:
    """An endless stream of canonical mentions (as dicts) with unique source ids."""
    rng = random.Random(seed)
    serial = 0
    run = f"{rng.getrandbits(40):010x}"
    # The first report of each burst, (source, source_id, handle, text): the post the
    # others quote and repost, as a thread grows around one eyewitness post.
    origins: dict[int, tuple[str, str, str, str]] = {}
    while True:
        serial += 1
        text = rng.choice(TEXTS)
        source = rng.choice(SOURCES)
        district = rng.choice(DISTRICTS)
        handle = rng.choice(HANDLES)
        source_id = f"demo-{run}-{serial}"
        references: list[dict[str, str]] = []
        report = burst_report(serial)
        if report is not None:
            burst, event, number = report
            text, district = event.reports[number], event.district
            # A different author for every report of a burst.
            handle = REPORTERS[(burst + number) % len(REPORTERS)]
            if number == 0:
                source = "x"
                origins[burst] = (source, source_id, handle, text)
            elif number in REPOSTED:
                source, origin_id, origin_handle, origin_text = origins[burst]
                text = f"RT @{origin_handle}: {origin_text}"
                references = [{"kind": "repost", "source_id": origin_id}]
            elif number % 2:
                source, origin_id = origins[burst][:2]
                references = [{"kind": "quote", "source_id": origin_id}]
        mention: dict[str, Any] = {
            "source": source,
            "source_id": source_id,
            "text": text,
            "created_at": datetime.now(UTC).isoformat(),
            "author": {
                "handle": handle,
                "follower_count": rng.randint(0, 5000),
                "verified": rng.random() < 0.05,
            },
            "language": "es" if any(w in text for w in (" la ", " el ", "Hay ", "Mi ")) else "en",
        }
        if district:
            mention["district"] = district
        if references:
            mention["references"] = references
        yield mention
