"""`make run` uses SQLite: the migrations, the append-only audit and atomic claims work there too."""

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from switchboard_router.bootstrap import create_app
from switchboard_router.db.engine import make_engine, migrate
from switchboard_router.items.steps import save_items
from switchboard_router.people import service as people
from switchboard_router.routing.policy import Policy
from switchboard_router.settings import RouterSettings


def test_the_whole_flow_works_on_sqlite(tmp_path, make_item):
    url = f"sqlite:///{tmp_path}/router.db"
    engine = make_engine(url)
    migrate(engine)
    migrate(engine)
    people.ensure_admin(engine, token="t", now=datetime.now(UTC))
    people.ensure_admin(engine, token="t", now=datetime.now(UTC))
    [stored] = save_items(engine, new_items=[make_item("m1")])
    admin = {"authorization": "Bearer t"}
    app = create_app(
        RouterSettings(database_url=url), engine, Policy.load(), consume=False, clock=False
    )
    with TestClient(app) as client:
        officer = client.post("/v1/officers", json={"name": "A"}, headers=admin).json()[
            "officer_id"
        ]
        client.post("/v1/queues/general/members", json={"officer_id": officer}, headers=admin)
        token = client.post(f"/v1/officers/{officer}/tokens", headers=admin).json()["token"]
        me = {"authorization": f"Bearer {token}"}
        assert client.post(f"/v1/items/{stored.item_id}/claim", headers=me).status_code == 200
        assert client.post(f"/v1/items/{stored.item_id}/claim", headers=me).status_code == 409
        assert client.post(f"/v1/items/{stored.item_id}/ack", headers=me).status_code == 200
        done = client.post(
            f"/v1/items/{stored.item_id}/resolve", json={"disposition": "actioned"}, headers=me
        )
        assert done.json()["status"] == "resolved"
        detail = client.get(f"/v1/items/{stored.item_id}", headers=me).json()
        assert [a["action"] for a in detail["audit"]] == [
            "queued",
            "claimed",
            "acknowledged",
            "resolved",
        ]
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM audit"))
    engine.dispose()
