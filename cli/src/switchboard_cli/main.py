"""`switchboard`: the operators' command line.

    switchboard classify FILE|- [--model DIR]
                                      JSON-lines mentions in, one classification per line out
    switchboard train --data FILE --out DIR
                                      train a classifier model on gold-format JSON lines
    switchboard evaluate --data FILE [--model DIR]
                                      precision, recall, F1 and confusion matrix as JSON
    switchboard send FILE|-           post JSON-lines mentions to the ingest API, one by one
    switchboard replay FILE|- --rate N/s
                                      stream a JSON-lines file through ingest's batch
                                      intake at a steady rate (backfills and drills)
    switchboard demo                  post a realistic demo feed at a steady rate
    switchboard demo-answers          a demo desk answering questions and thanks (make run)
    switchboard new-api-key NAME SOURCE...
                                      mint an API key and print its key-file entry
    switchboard schema                print the canonical mention's JSON Schema

The ingest URL and API key come from --url / --api-key or from
SWITCHBOARD_INGEST_URL / SWITCHBOARD_INGEST_API_KEY (as `make run` writes them).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from switchboard_cli.answering import cmd_demo_answers
from switchboard_cli.classifying import add_parsers
from switchboard_cli.demo import demo_mentions
from switchboard_shared.events import MentionIn, Source

if TYPE_CHECKING:
    import httpx

DEFAULT_INGEST_URL = "http://127.0.0.1:8001"


def _open(name: str) -> IO[str]:
    return sys.stdin if name == "-" else Path(name).open(encoding="utf-8")


def _lines(stream: IO[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(stream, start=1):
        if line.strip():
            yield number, line.strip()


def _rate(text: str) -> float:
    """'200/s', '200' -> 200.0 mentions per second."""
    value = float(text.removesuffix("/s"))
    if value <= 0:
        raise argparse.ArgumentTypeError("the rate must be above 0")
    return value


def _headers(api_key: str | None) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    return headers


def _post(
    client: httpx.Client, url: str, body: str | bytes, headers: dict[str, str], retries: int
) -> httpx.Response:
    """POST; on 429 or 503 wait for Retry-After and try again, up to `retries` times."""
    for attempt in range(retries + 1):
        response = client.post(url, content=body, headers=headers)
        if response.status_code not in (429, 503) or attempt == retries:
            return response
        time.sleep(float(response.headers.get("retry-after", "1")))
    raise AssertionError("unreachable")


class _Pacer:
    """Spaces work at a fixed rate; after a stall it resumes the rate rather than bursting to catch up."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next_at = time.monotonic()

    def wait(self, units: int = 1) -> None:
        if not self.interval:
            return
        delay = self.next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self.next_at = max(self.next_at, time.monotonic()) + self.interval * units


def _send_all(bodies: Iterable[tuple[str, str | bytes]], args: argparse.Namespace) -> int:
    failed = 0
    pacer = _Pacer(args.rate)
    url = f"{args.url.rstrip('/')}/v1/mentions"
    headers = _headers(args.api_key)
    import httpx  # here, not at the top: `classify` has no use for its second of imports

    with httpx.Client(timeout=30) as client:
        for where, body in bodies:
            pacer.wait()
            try:
                response = _post(client, url, body, headers, args.retries)
            except httpx.HTTPError as exc:
                failed += 1
                print(f"{where}: cannot reach ingest: {exc}", file=sys.stderr)
                continue
            answer: Any = response.json() if response.content else {}
            if response.status_code in (200, 202):
                print(
                    json.dumps(
                        {
                            "at": where,
                            "status": answer.get("status"),
                            "mention_id": answer.get("mention_id"),
                        }
                    )
                )
            else:
                failed += 1
                print(
                    f"{where}: {response.status_code} {answer.get('detail', answer)}",
                    file=sys.stderr,
                )
    return 1 if failed else 0


def cmd_send(args: argparse.Namespace) -> int:
    """Post JSON-lines mentions to the ingest API, one request each."""
    with _open(args.file) as stream:
        return _send_all(((f"line {n}", line) for n, line in _lines(stream)), args)


def cmd_demo(args: argparse.Namespace) -> int:
    """Post a realistic demo feed until the count is reached (or forever)."""
    feed = demo_mentions(args.seed)

    def bodies() -> Iterator[tuple[str, bytes]]:
        for number, mention in enumerate(feed, start=1):
            if args.count and number > args.count:
                return
            yield f"demo {number}", json.dumps(mention).encode()

    return _send_all(bodies(), args)


def cmd_replay(args: argparse.Namespace) -> int:
    """Stream a JSON-lines file through batch intake at a steady rate; report every line."""
    url = f"{args.url.rstrip('/')}/v1/mentions/batch"
    headers = _headers(args.api_key)
    # About ten requests a second: small enough to keep the rate smooth.
    chunk = max(1, min(args.batch_size, int(args.rate / 10) or 1))
    pacer = _Pacer(args.rate)
    totals: dict[str, int] = {}
    unreadable = 0

    def chunks() -> Iterator[list[tuple[int, Any]]]:
        nonlocal unreadable
        batch: list[tuple[int, Any]] = []
        with _open(args.file) as stream:
            for number, line in _lines(stream):
                try:
                    batch.append((number, json.loads(line)))
                except json.JSONDecodeError as exc:
                    unreadable += 1
                    print(f"line {number}: not JSON: {exc}", file=sys.stderr)
                    continue
                if len(batch) == chunk:
                    yield batch
                    batch = []
        if batch:
            yield batch

    import httpx  # here, not at the top: `classify` has no use for it

    with httpx.Client(timeout=60) as client:
        for batch in chunks():
            pending = batch
            for attempt in range(args.retries + 1):
                pacer.wait(len(pending))
                body = json.dumps({"mentions": [item for _, item in pending]})
                try:
                    response = client.post(url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    print(
                        f"lines {pending[0][0]}-{pending[-1][0]}: cannot reach ingest: {exc}",
                        file=sys.stderr,
                    )
                    totals["unreachable"] = totals.get("unreachable", 0) + len(pending)
                    break
                if response.status_code == 429 and attempt < args.retries:
                    # The key's rate limit: nothing of the batch was taken; send it all again.
                    time.sleep(float(response.headers.get("retry-after", "1")))
                    continue
                if response.status_code in (401, 403, 413, 415, 429) or (
                    response.status_code == 422 and "results" not in response.json()
                ):
                    print(
                        f"lines {pending[0][0]}-{pending[-1][0]}: {response.status_code} {response.json().get('detail')}",
                        file=sys.stderr,
                    )
                    totals["refused"] = totals.get("refused", 0) + len(pending)
                    break
                retry = []
                for result in response.json()["results"]:
                    number, item = pending[result["index"]]
                    if result["status"] == "unavailable" and attempt < args.retries:
                        retry.append((number, item))
                        continue
                    totals[result["status"]] = totals.get(result["status"], 0) + 1
                    if result["status"] not in ("accepted", "duplicate"):
                        print(
                            f"line {number}: {result['status']}: {result.get('detail', '')}",
                            file=sys.stderr,
                        )
                if not retry:
                    break
                time.sleep(float(response.headers.get("retry-after", "1")))
                pending = retry
    if unreadable:
        totals["not_json"] = unreadable
    print(json.dumps({"replayed": totals}))
    return 0 if set(totals) <= {"accepted", "duplicate"} else 1


def cmd_new_api_key(args: argparse.Namespace) -> int:
    """Mint a key; print it once, and the entry (with only its hash) for the key file."""
    valid = {s.value for s in Source} | {"*"}
    unknown = [s for s in args.sources if s not in valid]
    if unknown:
        print(f"unknown sources {unknown}; choose from {sorted(valid)}", file=sys.stderr)
        return 2
    key = secrets.token_urlsafe(32)
    entry = {
        "name": args.name,
        "sha256": hashlib.sha256(key.encode()).hexdigest(),
        "sources": args.sources,
    }
    if args.agency:
        entry["agency"] = args.agency
    print(json.dumps({"key": key, "key_file_entry": entry}))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the canonical mention's JSON Schema."""
    print(json.dumps(MentionIn.model_json_schema(), indent=2, sort_keys=True))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="switchboard",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    add_parsers(sub)

    def ingest_options(p: argparse.ArgumentParser, default_rate: float | None) -> None:
        p.add_argument(
            "--url",
            default=os.environ.get("SWITCHBOARD_INGEST_URL", DEFAULT_INGEST_URL),
            help="ingest base URL",
        )
        p.add_argument(
            "--api-key", default=os.environ.get("SWITCHBOARD_INGEST_API_KEY"), help="ingest API key"
        )
        p.add_argument(
            "--rate", type=_rate, default=default_rate, help="mentions per second (e.g. 200/s)"
        )
        p.add_argument("--retries", type=int, default=5, help="retries of a 429 or 503 answer")

    send = sub.add_parser("send", help="post JSON-lines mentions (FILE or -) to the ingest API")
    send.add_argument("file")
    ingest_options(send, None)
    send.set_defaults(func=cmd_send)

    replay = sub.add_parser(
        "replay", help="stream a JSON-lines file through batch intake at --rate"
    )
    replay.add_argument("file")
    ingest_options(replay, 100.0)
    replay.add_argument("--batch-size", type=int, default=500, help="most mentions per request")
    replay.set_defaults(func=cmd_replay)

    demo = sub.add_parser("demo", help="post a realistic demo feed to the ingest API")
    demo.add_argument("--count", type=int, default=0, help="stop after this many (0: never)")
    demo.add_argument("--seed", type=int, default=None)
    ingest_options(demo, 2.0)
    demo.set_defaults(func=cmd_demo)

    answers = sub.add_parser(
        "demo-answers", help="a demo desk that answers questions and thanks through the router"
    )
    answers.add_argument(
        "--router",
        default=os.environ.get("SWITCHBOARD_ROUTER_URL", "http://127.0.0.1:8003"),
        help="router base URL",
    )
    answers.add_argument(
        "--admin-token",
        default=os.environ.get("SWITCHBOARD_ADMIN_TOKEN"),
        help="an admin's token (makes the demo officer and supervisor)",
    )
    answers.add_argument("--interval", type=float, default=5.0, help="seconds between rounds")
    answers.add_argument("--count", type=int, default=0, help="stop after this many (0: never)")
    answers.set_defaults(func=cmd_demo_answers)

    new_key = sub.add_parser(
        "new-api-key", help="mint an ingest API key for some sources ('*' for all)"
    )
    new_key.add_argument("name")
    new_key.add_argument("sources", nargs="+")
    new_key.add_argument(
        "--agency",
        default=None,
        help="whose app/email/sms/other ids these are (default: NAME); a rotated key keeps it",
    )
    new_key.set_defaults(func=cmd_new_api_key)

    schema = sub.add_parser("schema", help="print the canonical mention's JSON Schema")
    schema.set_defaults(func=cmd_schema)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; the exit code is the result."""
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
