"""Realistic demo mentions for `make run`, drills and benchmarks.

Written by hand to look like what an agency's feeds carry: mostly chatter,
praise and questions, some nuisance and property reports, and now and then a
real emergency. Each call to `demo_mentions` shuffles them with authors,
districts and sources so a feed never repeats exactly.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
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
    while True:
        serial += 1
        text = rng.choice(TEXTS)
        source = rng.choice(SOURCES)
        district = rng.choice(DISTRICTS)
        mention: dict[str, Any] = {
            "source": source,
            "source_id": f"demo-{run}-{serial}",
            "text": text,
            "created_at": datetime.now(UTC).isoformat(),
            "author": {
                "handle": rng.choice(HANDLES),
                "follower_count": rng.randint(0, 5000),
                "verified": rng.random() < 0.05,
            },
            "language": "es" if any(w in text for w in (" la ", " el ", "Hay ", "Mi ")) else "en",
        }
        if district:
            mention["district"] = district
        yield mention
