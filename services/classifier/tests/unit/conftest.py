"""Fixtures the classifier's unit tests share."""

import pytest

from switchboard_classifier.evaluation import gold


@pytest.fixture(scope="session")
def gold_records():
    """Every record of the shipped gold set, both splits: over a thousand real-looking mentions."""
    return tuple(gold("train") + gold("test"))


@pytest.fixture(scope="session")
def gold_texts(gold_records):
    """The texts of `gold_records`, in order."""
    return tuple(record["text"] for record in gold_records)
