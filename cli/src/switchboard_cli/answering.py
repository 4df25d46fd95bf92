"""`switchboard demo-answers`: a demo desk that answers citizens through the router's API.

For `make run`: two demo people (an officer and a supervisor, in the queues
where questions and thanks land) take the open items of answerable sources,
answer each once — a template for thanks and low questions, free text that the
supervisor approves otherwise — and acknowledge it (every other one resolved),
so that within a minute or two the stand-in has posts, `GET
/v1/reports/response-times` has figures and the console shows threads. It uses only the public API, as an agency's own tooling
would, and never touches critical or high items: those are for people.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

DEMO_QUEUES = ("community-engagement", "general")
FREE_TEXT = "Thank you for writing to us. An officer has read this and is looking into it."
ANSWERED_URGENCIES = ("low", "normal")


class Desk:
    """The demo officer and supervisor, signed in to the router."""

    def __init__(self, router: str, admin_token: str, client: httpx.Client) -> None:
        self.router = router.rstrip("/")
        self.client = client
        self.admin = {"authorization": f"Bearer {admin_token}"}
        self.answered = 0
        self.officer = self._person("Demo answering officer", "officer")
        self.supervisor = self._person("Demo approving supervisor", "supervisor")

    def _call(self, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> Any:
        answer = self.client.request(method, f"{self.router}{path}", headers=headers, **kwargs)
        if answer.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:300]}")
        return answer.json() if answer.content else None

    def _person(self, name: str, role: str) -> dict[str, str]:
        made = self._call("POST", "/v1/officers", self.admin, json={"name": name, "role": role})
        officer_id = made["officer_id"]
        for queue in DEMO_QUEUES:
            self.client.post(
                f"{self.router}/v1/queues", json={"queue_id": queue}, headers=self.admin
            )  # 409 when it exists
            self._call(
                "POST", f"/v1/queues/{queue}/members", self.admin, json={"officer_id": officer_id}
            )
        token = self._call("POST", f"/v1/officers/{officer_id}/tokens", self.admin)["token"]
        return {"authorization": f"Bearer {token}"}

    def open_items(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for queue in DEMO_QUEUES:
            page = self._call("GET", f"/v1/queues/{queue}/items?status=open&limit=50", self.officer)
            found += [i for i in page["items"] if i["urgency"] in ANSWERED_URGENCIES]
        return found

    def answer(self, item: dict[str, Any]) -> str | None:
        """Answer one item and resolve it; the reply's id, or None if it cannot be answered."""
        item_id = item["item_id"]
        options = self._call("GET", f"/v1/items/{item_id}/reply-options", self.officer)
        if not options["answerable"]:
            return None
        if self._call("GET", f"/v1/items/{item_id}/replies", self.officer)["replies"]:
            return None
        if "praise" in item["topics"] or item["urgency"] == "low":
            detail = self._call("GET", f"/v1/items/{item_id}", self.officer)
            author = (detail.get("mention") or {}).get("author") or {}
            body: dict[str, Any] = {
                "template_id": "thanks",
                "variables": {"name": author.get("handle") or "neighbour"},
            }
        else:
            body = {"text": FREE_TEXT}
        reply = self._call("POST", f"/v1/items/{item_id}/replies", self.officer, json=body)
        if reply["status"] == "pending_approval":
            self._call("POST", f"/v1/replies/{reply['reply_id']}/approve", self.supervisor)
        self._call("POST", f"/v1/items/{item_id}/claim", self.officer)
        self._call("POST", f"/v1/items/{item_id}/ack", self.officer)
        self.answered += 1
        if self.answered % 2 == 0:
            # Every other one is closed (resolve times); the rest stay in hand, so the
            # console shows them with their threads.
            self._call(
                "POST",
                f"/v1/items/{item_id}/resolve",
                self.officer,
                json={"disposition": "actioned"},
            )
        return str(reply["reply_id"])


def cmd_demo_answers(args: argparse.Namespace) -> int:
    """Answer the demo feed's questions and thanks until the count is reached (or forever)."""
    if not args.admin_token:
        print("demo-answers: give --admin-token or SWITCHBOARD_ADMIN_TOKEN", file=sys.stderr)
        return 2
    answered = 0
    import httpx  # here, not at the top: the CLI's other commands have no use for it

    with httpx.Client(timeout=10.0) as client:
        desk = Desk(args.router, args.admin_token, client)
        while not args.count or answered < args.count:
            try:
                for item in desk.open_items():
                    reply_id = desk.answer(item)
                    if reply_id:
                        answered += 1
                        print(f"answered item {item['item_id']} with {reply_id}", flush=True)
                    if args.count and answered >= args.count:
                        break
            except (httpx.HTTPError, RuntimeError) as exc:
                # A claim someone else won, a router restarting: try again next round.
                print(f"demo-answers: {exc}", file=sys.stderr, flush=True)
            time.sleep(args.interval)
    return 0
