"""`switchboard`: the operators' command line.

switchboard classify FILE|-     JSON-lines mentions in, classifications out
switchboard send FILE|-         post JSON-lines mentions to the ingest API
switchboard demo                post a realistic demo feed at a steady rate
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import httpx
from pydantic import ValidationError

from switchboard_classifier.rules import Ruleset, classify_mention
from switchboard_cli.demo import demo_mentions
from switchboard_shared.events import MentionIn
from switchboard_shared.problems import field_errors

DEFAULT_INGEST_URL = "http://127.0.0.1:8001"


def _open(name: str) -> IO[str]:
    return sys.stdin if name == "-" else Path(name).open(encoding="utf-8")


def _lines(stream: IO[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(stream, start=1):
        if line.strip():
            yield number, line


def cmd_classify(args: argparse.Namespace) -> int:
    """Classify JSON-lines mentions with the same rules the stream uses."""
    ruleset = Ruleset.load(args.rules)
    bad = 0
    out = sys.stdout
    with _open(args.file) as stream:
        for number, line in _lines(stream):
            try:
                mention = MentionIn.model_validate_json(line)
            except ValidationError as exc:
                bad += 1
                first = field_errors(exc)[0]
                print(f"line {number}: {first['field']}: {first['message']}", file=sys.stderr)
                continue
            result = classify_mention(ruleset, mention)
            record = {
                "mention_id": mention.mention_id,
                "classification": result.model_dump(mode="json"),
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 2 if bad else 0


def _post(client: httpx.Client, url: str, body: str | bytes, retries: int) -> httpx.Response:
    """POST a mention; on 503 wait for Retry-After and try again, up to `retries` times."""
    for attempt in range(retries + 1):
        response = client.post(url, content=body, headers={"content-type": "application/json"})
        if response.status_code != 503 or attempt == retries:
            return response
        time.sleep(float(response.headers.get("retry-after", "1")))
    raise AssertionError("unreachable")


def _send_all(
    bodies: Iterable[tuple[str, str | bytes]], base_url: str, retries: int, rate: float | None
) -> int:
    failed = 0
    interval = 1.0 / rate if rate else 0.0
    next_at = time.monotonic()
    with httpx.Client(timeout=30) as client:
        for where, body in bodies:
            if interval:
                next_at += interval
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            try:
                response = _post(client, f"{base_url}/v1/mentions", body, retries)
            except httpx.HTTPError as exc:
                failed += 1
                print(f"{where}: cannot reach ingest: {exc}", file=sys.stderr)
                continue
            answer: Any = response.json() if response.content else {}
            if response.status_code == 202:
                print(
                    json.dumps({"at": where, "status": 202, "mention_id": answer.get("mention_id")})
                )
            else:
                failed += 1
                print(
                    f"{where}: {response.status_code} {answer.get('detail', answer)}",
                    file=sys.stderr,
                )
    return 1 if failed else 0


def cmd_send(args: argparse.Namespace) -> int:
    """Post JSON-lines mentions to the ingest API."""
    with _open(args.file) as stream:
        bodies = ((f"line {number}", line.strip()) for number, line in _lines(stream))
        return _send_all(bodies, args.url.rstrip("/"), args.retries, args.rate)


def cmd_demo(args: argparse.Namespace) -> int:
    """Post a realistic demo feed until the count is reached (or forever)."""
    feed = demo_mentions(args.seed)
    count = args.count

    def bodies() -> Iterator[tuple[str, bytes]]:
        for number, mention in enumerate(feed, start=1):
            if count and number > count:
                return
            yield f"demo {number}", json.dumps(mention).encode()

    return _send_all(bodies(), args.url.rstrip("/"), args.retries, args.rate)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="switchboard", description=__doc__.splitlines()[0] if __doc__ else None
    )
    sub = parser.add_subparsers(dest="command", required=True)

    classify = sub.add_parser("classify", help="classify JSON-lines mentions (FILE or - for stdin)")
    classify.add_argument("file")
    classify.add_argument(
        "--rules", type=Path, default=None, help="a YAML rule set instead of the shipped one"
    )
    classify.set_defaults(func=cmd_classify)

    for name, helptext, func in (
        ("send", "post JSON-lines mentions (FILE or - for stdin) to the ingest API", cmd_send),
        ("demo", "post a realistic demo feed to the ingest API", cmd_demo),
    ):
        p = sub.add_parser(name, help=helptext)
        if name == "send":
            p.add_argument("file")
        else:
            p.add_argument("--count", type=int, default=0, help="stop after this many (0: never)")
            p.add_argument("--seed", type=int, default=None)
        p.add_argument("--url", default=DEFAULT_INGEST_URL, help="ingest base URL")
        p.add_argument(
            "--rate",
            type=float,
            default=None if name == "send" else 2.0,
            help="mentions per second",
        )
        p.add_argument("--retries", type=int, default=5, help="retries of a 503 answer")
        p.set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; the exit code is the result."""
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
