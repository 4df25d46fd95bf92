"""What Switchboard's HTTP services share that needs FastAPI: the app every service is built
on (probes, the metrics route, problem documents) and its health routes.

A package of its own beside `switchboard_shared`, which stays free of any web framework so
that the classifier and the CLI need none. It may import `switchboard_shared` and FastAPI,
never a service.
"""
