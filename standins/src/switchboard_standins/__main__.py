"""`python -m switchboard_standins --port N`: serve the platform stand-ins until stopped."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from switchboard_standins.notify import (
    DEFAULT_SMS_TOKEN,
    DEFAULT_WEBHOOK_SECRET,
    NotifyStandin,
    SmtpStandin,
)
from switchboard_standins.server import Platform, Standin, StandinServer


def main() -> None:
    """Serve X, Mastodon and Meta stand-ins and the notifier's channels on one port (SMTP on another)."""
    parser = argparse.ArgumentParser(prog="python -m switchboard_standins", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    for platform in Platform:
        parser.add_argument(
            f"--{platform.value}-token",
            default=f"standin-{platform.value}-token",
            help=f"the bearer token the {platform.value} stand-in accepts",
        )
    parser.add_argument("--mastodon-max-chars", type=int, default=500)
    parser.add_argument("--rate-limit", type=int, default=100_000, help="requests per window")
    parser.add_argument("--window-seconds", type=float, default=900.0)
    parser.add_argument("--webhook-secret", default=DEFAULT_WEBHOOK_SECRET)
    parser.add_argument("--sms-token", default=DEFAULT_SMS_TOKEN)
    parser.add_argument(
        "--smtp-port", type=int, default=0, help="serve the SMTP stand-in here (0: not at all)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    smtp = SmtpStandin(args.host, args.smtp_port) if args.smtp_port else None
    notify = NotifyStandin(webhook_secret=args.webhook_secret, sms_token=args.sms_token, smtp=smtp)
    standin = Standin(
        tokens={p: getattr(args, f"{p.value}_token") for p in Platform},
        mastodon_max_chars=args.mastodon_max_chars,
        rate_limit=args.rate_limit,
        window_seconds=args.window_seconds,
        notify=notify,
    )

    async def serve() -> None:
        server = StandinServer(standin, args.host, args.port)
        await server.start()
        if smtp is not None:
            smtp.start()
            print(f"switchboard-standins SMTP on {smtp.host}:{smtp.port}", flush=True)
        print(f"switchboard-standins listening on {server.url}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            if smtp is not None:
                smtp.stop()
            await server.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
