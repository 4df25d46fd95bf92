"""What Switchboard's HTTP services share that needs FastAPI: the app every service is built
on (`app`: the metrics route, problem documents, the probes-only app of the background-loop
services), its health routes (`health`), route dependencies on what an app keeps on `app.state`
(`state`) and the uvicorn start-up (`serve`).

A package of its own beside `switchboard_shared`, which stays free of any web framework so
that the classifier and the CLI need none. It may import `switchboard_shared`, FastAPI and
uvicorn, never a service.
"""
