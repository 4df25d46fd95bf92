"""The operations console in a real browser: headless Chromium (Debian's package,
driven by Playwright) against the three services as processes on the real Kafka
and PostgreSQL.

An officer signs in with a token, a critical mention posted to ingest shows up
on the page marked critical, the officer claims, acknowledges, notes and
resolves it with the keyboard, and the item's audit trail (read through the
API) shows each step by that officer. A supervisor watching the same queue on
a wall display sees it in the overview.

Screenshots go to the test's temporary directory; set
`SWITCHBOARD_CONSOLE_SCREENSHOTS=docs/screenshots` to refresh the README's.
"""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]

API_KEY = "console-e2e-key"
ADMIN_TOKEN = "console-e2e-admin"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling home, which on a
# closed network is a flood of refused connections.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CRITICAL = "Shots fired at 5th and Main right now, someone is down"
BACKGROUND = [
    "Car crash on Route 9 right now, two cars, one on its side",
    "Is the bridge on 3rd Street still closed tonight?",
    "Huge thanks to the officers at the Elm Street community day",
]
# Where the shipped policy puts CRITICAL and (for the screenshots) BACKGROUND.
OFFICER_QUEUES = ["emergency", "district-central", "community-engagement", "general"]
SUPERVISOR_QUEUES = [*OFFICER_QUEUES, "duty-inspector"]


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, installed with apt when missing (CI runs as root on a fresh machine)."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail(f"{CHROMIUM} is missing: install it as root with `apt-get install -y chromium`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "-o", "Dpkg::Options::=--force-confold", "chromium"],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.fail(
                f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            )
    assert CHROMIUM.exists(), "apt-get installed chromium but /usr/bin/chromium is missing"
    return CHROMIUM


@pytest.fixture
def browser(chromium):
    # Synchronous Playwright runs its own event loop in a greenlet; a plain (non-async)
    # test and fixture keep it clear of pytest-asyncio's loop.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def services(start_services):
    return start_services(api_key=API_KEY, admin_token=ADMIN_TOKEN)


def add_officer(router: str, name: str, role: str, queues: list[str]) -> tuple[str, str]:
    """An off-duty officer (so nothing is auto-assigned) in `queues`; returns (id, token)."""
    made = httpx.post(f"{router}/v1/officers", json={"name": name, "role": role}, headers=ADMIN)
    assert made.status_code == 201, made.text
    officer_id = made.json()["officer_id"]
    for queue in queues:
        created = httpx.post(f"{router}/v1/queues", json={"queue_id": queue}, headers=ADMIN)
        assert created.status_code in (201, 409), created.text
        joined = httpx.post(
            f"{router}/v1/queues/{queue}/members", json={"officer_id": officer_id}, headers=ADMIN
        )
        assert joined.status_code == 201, joined.text
    issued = httpx.post(f"{router}/v1/officers/{officer_id}/tokens", headers=ADMIN)
    assert issued.status_code == 201, issued.text
    return officer_id, issued.json()["token"]


def post_mention(ingest: str, source_id: str, text: str) -> str:
    answer = httpx.post(
        f"{ingest}/v1/mentions",
        json={
            "source": "x",
            "source_id": source_id,
            "text": text,
            "created_at": "2026-11-29T22:00:00Z",
            "district": "Central",
        },
        headers={"authorization": f"Bearer {API_KEY}"},
    )
    assert answer.status_code == 202, answer.text
    mention_id: str = answer.json()["mention_id"]
    return mention_id


def sign_in(page, url: str, token: str, name: str) -> None:
    from playwright.sync_api import expect

    page.goto(url)
    page.fill("#token", token)
    page.press("#token", "Enter")
    expect(page.locator("#whoami")).to_contain_text(name)
    expect(page.locator("#signin")).to_be_hidden()
    expect(page.locator("#live")).to_have_attribute("data-state", "on", timeout=15_000)


def screenshot(page, name: str, tmp_path: Path, *, items: int) -> None:
    """Into the test's directory, and (small, palette PNG) into the README's when asked.

    Waits a little for the background mentions to be on the page, for a fuller
    picture; only the screenshot depends on where the classifier puts them.
    """
    # Polled from here, not with wait_for_function: the console's CSP forbids eval,
    # which Playwright's in-page polling of a string predicate needs once the first
    # try comes back false.
    deadline = time.monotonic() + 10
    while page.locator("#items li").count() < items and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    path = tmp_path / name
    page.screenshot(path=str(path))
    target = os.environ.get("SWITCHBOARD_CONSOLE_SCREENSHOTS")
    if target:
        from PIL import Image

        Path(target).mkdir(parents=True, exist_ok=True)
        with Image.open(path) as image:
            image.convert("RGB").quantize(colors=128).save(Path(target) / name, optimize=True)


def test_a_critical_mention_is_shown_claimed_and_resolved_through_the_console(
    services, browser, tmp_path
):
    from playwright.sync_api import expect

    urls, processes = services
    router = urls["router"]
    officer_id, officer_token = add_officer(router, "Dana Reyes", "officer", OFFICER_QUEUES)
    _, supervisor_token = add_officer(router, "Insp. Sam Okafor", "supervisor", SUPERVISOR_QUEUES)

    officer_page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    wall_page = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    sign_in(officer_page, f"{router}/console/", officer_token, "Dana Reyes")
    sign_in(wall_page, f"{router}/console/?wall=1", supervisor_token, "Sam Okafor")

    for n, text in enumerate(BACKGROUND):
        post_mention(urls["ingest"], f"console-bg-{n}", text)
    post_mention(urls["ingest"], "console-critical", CRITICAL)

    # It arrives live (no reload), marked critical in words as well as colour.
    row = officer_page.locator("#items li[data-urgency='critical']", has_text="Shots fired")
    try:
        expect(row).to_be_visible(timeout=60_000)
    except AssertionError:
        pytest.fail(
            "the critical mention never appeared on the console:\n"
            + processes["classifier"].log_tail()
            + "\n"
            + processes["router"].log_tail()
        )
    expect(row.locator(".badge-critical")).to_have_text("\u26a0\ufe0e CRITICAL")
    expect(row).to_have_attribute("data-status", "open")
    item_id = int(row.get_attribute("data-item-id") or 0)

    # The supervisor's wall display shows it waiting in the emergency queue.
    wall_row = wall_page.locator("#items li[data-urgency='critical']", has_text="Shots fired")
    expect(wall_row).to_be_visible(timeout=15_000)
    expect(wall_page.locator("#overview-body tr", has_text="emergency")).to_contain_text("1")
    expect(wall_page.locator("#detail")).to_be_hidden()
    screenshot(wall_page, "console-wall.png", tmp_path, items=len(BACKGROUND) + 1)

    # Keyboard only: j selects the most urgent item, c claims, a acknowledges.
    officer_page.locator("body").click(position={"x": 5, "y": 5})
    officer_page.keyboard.press("j")
    expect(row).to_have_attribute("aria-selected", "true")
    expect(officer_page.locator("#d-text")).to_have_text(CRITICAL)
    expect(officer_page.locator("#d-rule")).to_contain_text("critical-to-emergency")
    expect(officer_page.locator("#d-reasons")).to_contain_text("active_threat")
    officer_page.keyboard.press("c")
    status = officer_page.locator("#d-status")
    expect(status).to_have_attribute("data-status", "claimed")
    expect(status).to_contain_text("Dana Reyes")
    expect(row).to_have_attribute("data-status", "claimed")
    screenshot(officer_page, "console.png", tmp_path, items=len(BACKGROUND) + 1)
    officer_page.keyboard.press("a")
    expect(status).to_have_attribute("data-status", "acknowledged")

    officer_page.keyboard.press("n")
    officer_page.fill("#note-text", "Units dispatched; caller is on the line")
    officer_page.press("#note-text", "Control+Enter")
    expect(officer_page.locator("#d-notes")).to_contain_text("Units dispatched")

    officer_page.keyboard.press("r")
    expect(officer_page.locator("#resolve-dialog")).to_be_visible()
    officer_page.select_option("#disposition", "actioned")
    officer_page.press("#disposition", "Enter")
    expect(status).to_have_attribute("data-status", "resolved")
    expect(officer_page.locator("#d-audit tr[data-action='resolved']")).to_contain_text(
        "Dana Reyes"
    )
    expect(row).to_have_count(0)  # resolved items leave the queue
    expect(wall_row).to_have_count(0, timeout=15_000)  # ... on every screen, live

    detail = httpx.get(
        f"{router}/v1/items/{item_id}", headers={"authorization": f"Bearer {officer_token}"}
    )
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["status"] == "resolved"
    assert body["disposition"] == "actioned"
    assert body["text"] == CRITICAL
    steps = [(a["action"], a["actor"]) for a in body["audit"]]
    for action in ("claimed", "acknowledged", "note_added", "resolved"):
        assert (action, officer_id) in steps, steps
    actions = [a for a, _ in steps]
    assert actions.index("claimed") < actions.index("acknowledged") < actions.index("resolved")


QUESTION = "Is the bridge on 3rd Street still closed tonight?"


def test_an_officer_answers_in_the_console_and_a_supervisor_approves_it_there(
    services, browser, tmp_path
):
    from playwright.sync_api import expect

    urls, processes = services
    router = urls["router"]
    officer_id, officer_token = add_officer(router, "Dana Reyes", "officer", OFFICER_QUEUES)
    supervisor_id, supervisor_token = add_officer(
        router, "Insp. Sam Okafor", "supervisor", SUPERVISOR_QUEUES
    )
    officer_page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    supervisor_page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    sign_in(officer_page, f"{router}/console/", officer_token, "Dana Reyes")
    sign_in(supervisor_page, f"{router}/console/", supervisor_token, "Sam Okafor")

    post_mention(urls["ingest"], "console-question", QUESTION)
    row = officer_page.locator("#items li", has_text="bridge on 3rd Street")
    try:
        expect(row).to_be_visible(timeout=60_000)
    except AssertionError:
        pytest.fail("the question never appeared:\n" + processes["router"].log_tail())
    item_id = int(row.get_attribute("data-item-id") or 0)
    row.click()
    expect(officer_page.locator("#d-text")).to_have_text(QUESTION)

    # The box counts against X's limit and says which approval rule applies.
    expect(officer_page.locator("#reply-limit")).to_have_text("280")
    officer_page.fill("#reply-text", "x" * 281)
    expect(officer_page.locator("#reply-count")).to_have_attribute("data-over", "true")
    expect(officer_page.locator("#reply-send")).to_be_disabled()
    answer = "It reopens at 6 am; use the 5th Street bridge until then."
    officer_page.fill("#reply-text", answer)
    expect(officer_page.locator("#reply-approval")).to_contain_text("needs a supervisor's approval")
    officer_page.click("#reply-send")
    reply = officer_page.locator("#d-thread li.reply", has_text="It reopens at 6 am")
    expect(reply).to_have_attribute("data-status", "pending_approval")
    # The author has no approve button for their own reply.
    expect(reply.locator("[data-reply-action='approve']")).to_have_count(0)

    # The supervisor's approval list shows it; approving it there moves it on.
    waiting = supervisor_page.locator("#approval-list li", has_text="It reopens at 6 am")
    expect(waiting).to_be_visible(timeout=15_000)
    waiting.locator("[data-reply-action='approve']").click()
    expect(waiting).to_have_count(0)
    expect(reply).to_have_attribute("data-status", "approved", timeout=15_000)
    expect(reply).to_contain_text("approved by")
    # After the policy's hold the router hands it to the responder.
    expect(reply).to_have_attribute("data-status", re.compile("sending|sent"), timeout=30_000)
    screenshot(officer_page, "console-reply.png", tmp_path, items=1)

    thread = httpx.get(
        f"{router}/v1/items/{item_id}/replies", headers={"authorization": f"Bearer {officer_token}"}
    ).json()
    [stored] = thread["replies"]
    assert (stored["text"], stored["author"], stored["approver"]) == (
        answer,
        officer_id,
        supervisor_id,
    )
    assert stored["status"] in ("sending", "sent")


# Critical mentions with no place in their text, so the district they state is the one
# that routes them (and that the map counts).
CRITICALS = [
    "gunman shooting in the parking lot right now",
    "shots fired near the school, kids running",
    "someone is shooting at people in the square right now",
    "a man collapsed at the bus stop and is not breathing",
    "shots fired, a gunman is shooting outside the bank",
    "he shot his neighbour and is still outside with the rifle",
]
MAP_DISTRICTS = ["Harbor", "Downtown", "Eastside", "Northside"]  # the shipped map's


def post(ingest: str, source_id: str, text: str, district: str | None = None) -> str:
    body = {
        "source": "x",
        "source_id": source_id,
        "text": text,
        "created_at": "2026-11-29T22:00:00Z",
    }
    if district:
        body["district"] = district
    answer = httpx.post(
        f"{ingest}/v1/mentions", json=body, headers={"authorization": f"Bearer {API_KEY}"}
    )
    assert answer.status_code == 202, answer.text
    mention_id: str = answer.json()["mention_id"]
    return mention_id


def wait_for_rows(page, count: int, processes, timeout: float = 90) -> None:
    """Until the item list shows `count` rows (polled: the CSP forbids Playwright's eval)."""
    deadline = time.monotonic() + timeout
    while page.locator("#items li").count() < count:
        if time.monotonic() > deadline:
            pytest.fail(
                f"{page.locator('#items li').count()} of {count} items appeared:\n"
                + processes["router"].log_tail()
            )
        page.wait_for_timeout(250)


def critical_to_districts_policy(tmp_path: Path) -> Path:
    """The shipped policy with critical mentions of a known district sent to its queue (so
    critical items land in several queues, and banners in several groups)."""
    import switchboard_router.routing as routing

    shipped = (Path(routing.__file__).parent / "routing.yaml").read_text()
    anchor = "  - name: critical-to-emergency\n"
    assert anchor in shipped
    rule = (
        "  - name: critical-to-district\n"
        "    when: {urgency: [critical], has: [district]}\n"
        '    queue: "district-{district}"\n'
    )
    path = tmp_path / "routing.yaml"
    path.write_text(shipped.replace(anchor, rule + anchor))
    return path


def test_alert_banners_are_grouped_per_queue_counted_and_capped(start_services, browser, tmp_path):
    from playwright.sync_api import expect

    # The router reads its policy path from the environment all three services get.
    urls, processes = start_services(
        api_key=API_KEY,
        admin_token=ADMIN_TOKEN,
        kafka_env={"SWITCHBOARD_ROUTER_POLICY_PATH": str(critical_to_districts_policy(tmp_path))},
    )
    router = urls["router"]
    district_queues = [f"district-{d.lower()}" for d in MAP_DISTRICTS]
    # An officer: no supervisor overview, whose rows would move the queues down as queues fill.
    _, token = add_officer(router, "Dana Reyes", "officer", ["emergency", *district_queues])
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    sign_in(page, f"{router}/console/", token, "Dana Reyes")
    queues_top = page.locator("#queue-list").bounding_box()["y"]

    # Six critical mentions with no district (emergency), one in each map district.
    mentions = [post(urls["ingest"], f"banner-{n}", text) for n, text in enumerate(CRITICALS)]
    mentions += [
        post(urls["ingest"], f"banner-d-{n}", CRITICALS[n], district)
        for n, district in enumerate(MAP_DISTRICTS)
    ]
    wait_for_rows(page, len(mentions), processes)

    # The groups the banners should show: critical items per queue, as the router placed them.
    per_queue: dict[str, int] = {}
    auth = {"authorization": f"Bearer {token}"}
    for queue in ["emergency", *district_queues]:
        listed = httpx.get(f"{router}/v1/queues/{queue}/items", headers=auth).json()["items"]
        critical = [i for i in listed if i["urgency"] == "critical" and i["mention_id"] in mentions]
        if critical:
            per_queue[queue] = len(critical)
    assert sum(per_queue.values()) == len(mentions), per_queue
    assert per_queue.get("emergency", 0) >= len(CRITICALS), per_queue  # one queue, many items
    assert len(per_queue) > 3, per_queue  # more groups than the cap

    shown = page.locator("#alerts > .alert")
    more = page.locator("#alerts > .alerts-more")
    expect(shown).to_have_count(3)
    # The largest group first: one banner counting every critical item of the queue.
    biggest = max(per_queue, key=lambda q: per_queue[q])
    first = shown.first
    expect(first).to_have_attribute("data-alert-queue", biggest)
    expect(first).to_contain_text(f"{per_queue[biggest]} new critical in {biggest}")
    assert page.locator(".alert[data-alert-queue='emergency']").count() == 1
    # The strip keeps its height: the queue list has not moved down.
    assert page.locator("#alerts").bounding_box()["height"] < 60
    assert page.locator("#queue-list").bounding_box()["y"] == queues_top

    # "+k more" drops the rest down; every group is there exactly once.
    more.click()
    groups = page.locator("#alerts .alert[data-alert-kind='critical']")
    expect(groups).to_have_count(len(per_queue))
    seen = {
        g.get_attribute("data-alert-queue"): int(g.get_attribute("data-count") or 0)
        for g in groups.all()
    }
    assert seen == per_queue
    # Besides them at most the "N incidents" banner (a router that groups these mentions).
    # It may come a moment after the items (the list is fetched at most every 2 s).
    others = page.locator("#alerts .alert:not([data-alert-kind='critical'])")
    deadline = time.monotonic() + 10
    while True:
        total = len(per_queue) + others.count()
        if more.inner_text().strip() == f"+{total - 3} more" or time.monotonic() > deadline:
            break
        page.wait_for_timeout(200)
    expect(more).to_have_text(f"+{total - 3} more")
    assert others.count() in (0, 1)
    if others.count():
        expect(others).to_have_attribute("data-alert-kind", "incidents")
    assert page.locator("#queue-list").bounding_box()["y"] == queues_top
    more.click()
    expect(page.locator("#alerts .alert")).to_have_count(3)

    # A banner opens its queue; dismissing it clears the group until a new item comes.
    first.locator(".alert-open").click()
    expect(page.locator(".queue-button[aria-pressed='true']")).to_contain_text(biggest)
    page.locator(f".alert[data-alert-queue='{biggest}'] .alert-dismiss").click()
    expect(page.locator(f".alert[data-alert-queue='{biggest}']")).to_have_count(0)
    if total - 1 > 3:
        more.click()
    expect(groups).to_have_count(len(per_queue) - 1)
    screenshot(page, "console-banners.png", tmp_path, items=len(mentions))


def test_the_district_map_counts_open_items_live_and_is_on_the_wall_display(
    services, browser, tmp_path
):
    from playwright.sync_api import expect

    from switchboard_shared.districts import shipped_map

    urls, processes = services
    router = urls["router"]
    _, token = add_officer(router, "Insp. Sam Okafor", "supervisor", SUPERVISOR_QUEUES)
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    wall = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    sign_in(page, f"{router}/console/", token, "Sam Okafor")
    sign_in(wall, f"{router}/console/?wall=1", token, "Sam Okafor")

    # The map is the configured GeoJSON's districts, drawn as SVG paths with their names.
    page.click("#tab-map")
    names = [f["properties"]["name"] for f in shipped_map()["features"]]
    districts = page.locator("#district-map g.district")
    expect(districts).to_have_count(len(names))
    assert [d.get_attribute("data-district") for d in districts.all()] == names
    for name in names:
        district = page.locator(f"#district-map g[data-district='{name}']")
        expect(district.locator("path")).to_have_count(1)
        expect(district.locator("text")).to_contain_text(name)
    harbor = page.locator("#district-map g[data-district='Harbor']")
    expect(harbor).to_have_attribute("data-open-items", "0")
    expect(harbor).to_have_class(re.compile(r"\bshade-0\b"))

    # The wall display shows the map beside the queue, the item pane hidden.
    expect(wall.locator("#map-panel")).to_be_visible()
    expect(wall.locator("#items-panel")).to_be_visible()
    expect(wall.locator("#district-map g.district")).to_have_count(len(names))
    wall_harbor = wall.locator("#district-map g[data-district='Harbor']")
    expect(wall_harbor).to_have_attribute("data-open-items", "0")

    # A critical mention in Harbor arrives: both screens count it, live (no reload).
    mention_id = post(urls["ingest"], "map-harbor", CRITICALS[0], "Harbor")
    try:
        expect(harbor).to_have_attribute("data-open-items", "1", timeout=60_000)
    except AssertionError:
        pytest.fail("the map never counted the item:\n" + processes["router"].log_tail())
    expect(harbor).to_have_class(re.compile(r"\bshade-[1-5]\b"))
    expect(harbor.locator("text")).to_contain_text("1 open")
    expect(wall_harbor).to_have_attribute("data-open-items", "1", timeout=15_000)
    for other in names:
        if other != "Harbor":
            expect(page.locator(f"#district-map g[data-district='{other}']")).to_have_attribute(
                "data-open-items", "0"
            )
    screenshot(wall, "console-wall-map.png", tmp_path, items=1)

    # Claimed, it is no longer open: the count goes back down on its own.
    auth = {"authorization": f"Bearer {token}"}
    listed = httpx.get(f"{router}/v1/queues/emergency/items", headers=auth).json()["items"]
    [item] = [i for i in listed if i["mention_id"] == mention_id]
    claimed = httpx.post(f"{router}/v1/items/{item['item_id']}/claim", headers=auth)
    assert claimed.status_code == 200, claimed.text
    expect(harbor).to_have_attribute("data-open-items", "0", timeout=15_000)
    expect(wall_harbor).to_have_attribute("data-open-items", "0", timeout=15_000)


# One fire reported twice word for word (a near duplicate: linked automatically) and once
# in other words (with the incident thresholds below: only suggested).
FIRE = "house on fire on Birch St, flames from the roof"
FIRE_AGAIN = "the whole roof is burning on Birch St, the fire is spreading to the next house"


def suggest_only_incidents(tmp_path: Path) -> Path:
    """The shipped incident clustering with similar mentions only ever suggested."""
    import switchboard_router.incidents as incidents

    shipped = (Path(incidents.__file__).parent / "incidents.yaml").read_text()
    lines = [
        "attach: 0.99"
        if line.startswith("attach:")
        else "suggest: 0.01"
        if line.startswith("suggest:")
        else line
        for line in shipped.splitlines()
    ]
    path = tmp_path / "incidents.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def wait_for_incident(router: str, members: int, suggested: int, processes) -> dict:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        listed = httpx.get(f"{router}/v1/incidents", headers=ADMIN)
        assert listed.status_code == 200, listed.text
        for incident in listed.json()["incidents"]:
            if (incident["member_count"], incident["suggested_count"]) == (members, suggested):
                return incident
        time.sleep(0.5)
    pytest.fail(
        f"no incident of {members} members and {suggested} suggested: {listed.text}\n"
        + processes["router"].log_tail()
    )


def test_incidents_are_listed_opened_confirmed_claimed_and_resolved_in_the_console(
    start_services, browser, tmp_path
):
    from playwright.sync_api import expect

    urls, processes = start_services(
        api_key=API_KEY,
        admin_token=ADMIN_TOKEN,
        kafka_env={"SWITCHBOARD_ROUTER_INCIDENTS_PATH": str(suggest_only_incidents(tmp_path))},
    )
    router = urls["router"]
    posted = [
        post(urls["ingest"], "fire-1", FIRE, "Harbor"),
        post(urls["ingest"], "fire-2", FIRE, "Harbor"),
    ]
    head = wait_for_incident(router, 2, 0, processes)
    posted.append(post(urls["ingest"], "fire-3", FIRE_AGAIN, "Harbor"))
    incident = wait_for_incident(router, 2, 1, processes)
    assert incident["incident_id"] == head["incident_id"]
    incident_id = incident["incident_id"]
    detail = httpx.get(f"{router}/v1/incidents/{incident_id}", headers=ADMIN).json()
    item_of = {m["mention_id"]: m["item_id"] for m in detail["members"]}
    assert set(item_of) == set(posted), detail
    suggested = item_of[posted[2]]

    officer_id, token = add_officer(router, "Dana Reyes", "officer", incident["queue_ids"])
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    sign_in(page, f"{router}/console/", token, "Dana Reyes")

    # A banner says how many incidents are open and opens the list.
    banner = page.locator(".alert[data-alert-kind='incidents']")
    expect(banner).to_contain_text("1 incident", timeout=15_000)
    banner.locator(".alert-open").click()
    expect(page.locator("#incidents-panel")).to_be_visible()
    row = page.locator(f"#incident-rows tr[data-incident-id='{incident_id}']")
    expect(row).to_have_count(1)
    expect(page.locator("#incident-rows tr")).to_have_count(1)  # one row, not one per item
    expect(row.locator(".incident-members")).to_have_text("2")
    expect(row.locator(".incident-suggested")).to_have_text("1")
    expect(row.locator(".badge")).to_contain_text(incident["urgency"].upper())

    # Opened: the members on a timeline in the order they were received.
    row.click()
    timeline = page.locator("#incident-timeline li")
    expect(timeline).to_have_count(3)
    assert [int(li.get_attribute("data-item-id") or 0) for li in timeline.all()] == [
        item_of[m] for m in posted
    ]
    candidate = page.locator(f"#incident-timeline li[data-item-id='{suggested}']")
    expect(candidate).to_have_attribute("data-link", "suggested")

    # The district map counts the open incident where it happened: the posts say Harbor,
    # but their text names Birch St, which lies in Northside only, and the place the
    # text names wins over the one stated (as an address's does).
    assert (incident["district"] or "").lower() == "northside", incident
    page.click("#tab-map")
    northside = page.locator("#district-map g[data-district='Northside']")
    expect(northside).to_have_attribute("data-open-incidents", "1", timeout=15_000)
    expect(northside.locator("text")).to_contain_text("1 incident")
    expect(page.locator("#district-map g[data-open-incidents='1']")).to_have_count(1)
    page.click("#tab-incidents")

    # A person confirms the suggested member: it counts as a member now.
    candidate.locator("[data-member-action='confirm']").click()
    expect(candidate).to_have_attribute("data-link", "confirmed")
    expect(row.locator(".incident-members")).to_have_text("3")
    expect(candidate.locator("[data-member-action]")).to_have_count(0)

    # One officer works the event: claim every member, then resolve the incident.
    page.click("#incident-claim")
    expect(page.locator("#incident-result")).to_contain_text("3 items claimed")
    for item_id in item_of.values():
        item = httpx.get(f"{router}/v1/items/{item_id}", headers=ADMIN).json()
        assert (item["status"], item["assignee"]) == ("claimed", officer_id), item
    page.click("#incident-resolve")
    expect(page.locator("#incident-resolve-dialog")).to_be_visible()
    page.select_option("#incident-disposition", "actioned")
    page.locator("#incident-resolve-form button[type='submit']").click()
    expect(page.locator("#incident-result")).to_contain_text("3 items resolved")
    expect(page.locator("#incident-claim")).to_be_disabled()
    shown = httpx.get(f"{router}/v1/incidents/{incident_id}", headers=ADMIN).json()
    assert shown["status"] == "resolved"
    for item_id in item_of.values():
        item = httpx.get(f"{router}/v1/items/{item_id}", headers=ADMIN).json()
        assert (item["status"], item["disposition"]) == ("resolved", "actioned"), item
    # Resolved, it leaves the open list and its banner.
    expect(page.locator("#incident-rows tr")).to_have_count(0, timeout=15_000)
    expect(banner).to_have_count(0)
    expect(page.locator("#incidents-empty")).to_be_visible()
