"""`python -m switchboard_standins --port N`: serve the platform stand-ins until stopped."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from switchboard_standins.server import Platform, Standin, StandinServer


def main() -> None:
    """Serve X, Mastodon and Meta stand-ins on one port."""
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
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    standin = Standin(
        tokens={p: getattr(args, f"{p.value}_token") for p in Platform},
        mastodon_max_chars=args.mastodon_max_chars,
        rate_limit=args.rate_limit,
        window_seconds=args.window_seconds,
    )

    async def serve() -> None:
        server = StandinServer(standin, args.host, args.port)
        await server.start()
        print(f"switchboard-standins listening on {server.url}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await server.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
