"""A route's dependency on app.state gives the part the app's start-up set, per app."""

from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from switchboard_web.state import app_state


class Counter:
    def __init__(self, start: int) -> None:
        self.value = start


CounterDep = Annotated[Counter, Depends(app_state("counter", Counter))]


def app_with(counter: Counter | None) -> FastAPI:
    app = FastAPI()
    if counter is not None:
        app.state.counter = counter

    @app.post("/bump")
    def bump(counter: CounterDep) -> dict[str, int]:
        counter.value += 1
        return {"value": counter.value}

    return app


def test_each_app_gives_its_own_part_and_the_same_one_on_every_request():
    first, second = Counter(0), Counter(100)
    with TestClient(app_with(first)) as a, TestClient(app_with(second)) as b:
        assert a.post("/bump").json() == {"value": 1}
        assert a.post("/bump").json() == {"value": 2}
        assert b.post("/bump").json() == {"value": 101}
    assert (first.value, second.value) == (2, 101)


def test_a_part_the_start_up_never_set_fails_naming_it():
    with (
        TestClient(app_with(None), raise_server_exceptions=True) as client,
        pytest.raises(AttributeError, match="counter"),
    ):
        client.post("/bump")
