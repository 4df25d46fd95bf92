"""Route dependencies on what an app keeps on `app.state`: its settings, the parts its
lifespan built (an intake, an engine, a policy holder, rate limits...).

Each service read them with a function of its own per part, the same three lines every
time; `app_state(name, kind)` is that function once, typed for the route's parameter:

    IntakeDep = Annotated[Intake, Depends(app_state("intake", Intake))]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import Request

T = TypeVar("T")


def app_state(name: str, kind: type[T]) -> Callable[[Request], T]:
    """A dependency giving `app.state.<name>`, which the app's start-up set to a `kind`.

    `kind` types the dependency for the type checker; a missing part is the app's bug and
    fails the request with the AttributeError that names it.
    """

    def from_app_state(request: Request) -> T:
        value: T = getattr(request.app.state, name)
        return value

    from_app_state.__name__ = f"app_state_{name}"
    from_app_state.__doc__ = f"The app's {name} ({kind.__name__}), set at start-up."
    return from_app_state
