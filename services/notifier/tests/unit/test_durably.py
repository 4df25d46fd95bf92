"""A write to the notifier's tables is retried until the database takes it, and counted."""

from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError

from switchboard_notifier import metrics
from switchboard_notifier.notifier import durably


def _database_retries() -> float:
    value = REGISTRY.get_sample_value(
        "switchboard_notifier_retries_total", {"failed": metrics.Failed.DATABASE.value}
    )
    return value or 0.0


async def test_a_failed_write_is_tried_again_until_it_is_stored(caplog):
    metrics.initialise()
    tries: list[str] = []

    def write(engine: object, *, send_id: int) -> str:
        tries.append(f"{engine}:{send_id}")
        if len(tries) == 1:
            raise OperationalError("UPDATE notifier_sends", {}, Exception("connection lost"))
        return "stored"

    before = _database_retries()
    assert await durably("engine", write, send_id=7) == "stored"
    assert tries == ["engine:7", "engine:7"]
    assert _database_retries() == before + 1
    assert "the notifier's database failed; retrying" in caplog.text
