import os
import subprocess
import sys

import numpy as np

from switchboard_classifier import features
from switchboard_classifier.features import CHAR, N_FEATURES, WORD, blocks, hashed_ngrams, transform


def _count(texts):
    kinds = hashed_ngrams(texts)
    return [np.bincount(rows, minlength=len(texts)).tolist() for rows, _ in kinds]


def test_words_and_padded_character_ngrams_are_counted_like_char_wb():
    # "ab cd": words ab, cd and the bigram "ab cd"; characters of " ab " and " cd ":
    # 3 pairs, 2 triples and 1 quadruple each (no 5-gram fits in 4 characters).
    words, chars = _count(["ab cd"])
    assert words == [3] and chars == [12]


def test_case_and_punctuation_do_not_change_the_features():
    loud, calm = transform(["Shots FIRED!!! at 5th & Main"]), transform(["shots fired at 5th main"])
    assert (loud != calm).nnz == 0


def test_ngrams_stay_within_their_own_text_in_a_batch():
    texts = ["fire on oak street", "", "x", "thank you officers"]
    together = transform(texts)
    for row, text in enumerate(texts):
        alone = transform([text])
        assert (together[row] != alone[0]).nnz == 0, text
    assert together[1].nnz == 0


def test_word_and_character_blocks_are_scaled_by_their_counts():
    word, char = blocks(["help help"], canonical=True)
    # words: help (twice) and the bigram "help help": 3 n-grams, scaled by 1/sqrt(3)
    assert np.isclose(word.sum(), 3 / np.sqrt(3), atol=1e-5)
    assert word.shape == char.shape == (1, N_FEATURES)
    assert {WORD, CHAR} == {0, 1}


def test_buckets_are_the_same_in_every_process():
    # Python's own str hash changes per process; the model's buckets must not.
    code = (
        "from switchboard_classifier.features import hashed_ngrams;"
        "k = hashed_ngrams(['Shots fired near the school, corre!']);"
        "print(sorted(k[0][1].tolist())[:5], sorted(k[1][1].tolist())[-5:])"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    kinds = hashed_ngrams(["Shots fired near the school, corre!"])
    here = f"{sorted(kinds[0][1].tolist())[:5]} {sorted(kinds[1][1].tolist())[-5:]}\n"
    assert outputs == {here}
    assert features.DESCRIPTION
