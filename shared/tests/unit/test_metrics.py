import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from switchboard_shared.metrics import start_at_zero


def exposition(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def test_every_combination_of_the_label_values_is_exported_at_zero():
    registry = CollectorRegistry()
    counter = Counter("things_total", "Things.", ["kind", "colour"], registry=registry)
    assert "things_total{" not in exposition(registry)

    start_at_zero(counter, kind=["a", "b"], colour=("red", "blue"))

    text = exposition(registry)
    for kind in ("a", "b"):
        for colour in ("red", "blue"):
            assert f'things_total{{colour="{colour}",kind="{kind}"}} 0.0' in text
    assert text.count("things_total{") == 4


def test_a_series_that_already_counted_keeps_its_count():
    registry = CollectorRegistry()
    counter = Counter("things_total", "Things.", ["kind"], registry=registry)
    counter.labels("a").inc(3)

    start_at_zero(counter, kind=["a", "b"])

    assert registry.get_sample_value("things_total", {"kind": "a"}) == 3.0
    assert registry.get_sample_value("things_total", {"kind": "b"}) == 0.0


def test_histograms_get_empty_buckets():
    registry = CollectorRegistry()
    histogram = Histogram("wait_seconds", "Waits.", ["urgency"], buckets=(1, 5), registry=registry)

    start_at_zero(histogram, urgency=["high"])

    assert 'wait_seconds_bucket{le="+Inf",urgency="high"} 0.0' in exposition(registry)
    assert registry.get_sample_value("wait_seconds_count", {"urgency": "high"}) == 0.0


def test_a_label_name_the_metric_does_not_have_is_refused():
    counter = Counter("things_total", "Things.", ["kind"], registry=CollectorRegistry())
    with pytest.raises(ValueError):
        start_at_zero(counter, colour=["red"])
