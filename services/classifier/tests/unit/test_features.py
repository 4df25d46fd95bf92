import os
import subprocess
import sys

import numpy as np

from switchboard_classifier import features
from switchboard_classifier.features import (
    CHAR,
    WORD,
    add_products,
    blocks,
    blocks_in_numpy,
    column_map,
    document_frequencies,
    hashed_ngrams,
    known_ngrams,
    smooth_idf,
)
from switchboard_classifier.model import TextModel


def transform(texts, fitted_on=None):
    seen = document_frequencies(fitted_on or texts)
    columns = [column_map(b) for b, _ in seen]
    idf = [smooth_idf(df, len(fitted_on or texts)) for _, df in seen]
    return blocks(texts, columns, idf)


def _count(texts):
    kinds = hashed_ngrams(texts)
    return [np.bincount(rows, minlength=len(texts)).tolist() for rows, _ in kinds]


def test_words_and_padded_character_ngrams_are_counted_like_char_wb():
    # "ab cd": words ab, cd and the bigram "ab cd"; characters of " ab " and " cd ":
    # 3 pairs, 2 triples and 1 quadruple each (no 5-gram fits in 4 characters).
    words, chars = _count(["ab cd"])
    assert words == [3] and chars == [12]


def test_case_does_not_change_the_features_and_punctuation_only_the_characters():
    texts = [
        "Shots FIRED!!! at 5th & Main",
        "shots fired!!! at 5th & main",
        "shots fired at 5th main",
    ]
    seen = document_frequencies(texts)
    (loud_w, loud_c), (calm_w, calm_c), (bare_w, bare_c) = (
        transform([t], fitted_on=texts) for t in texts
    )
    assert (loud_w != calm_w).nnz == 0 and (loud_c != calm_c).nnz == 0
    assert (loud_w != bare_w).nnz == 0  # words are runs of letters and digits
    assert (loud_c != bare_c).nnz > 0  # "!!" is a character n-gram, as in char_wb
    assert len(seen) == 2


def test_ngrams_stay_within_their_own_text_in_a_batch():
    texts = ["fire on oak street", "", "x", "thank you officers"]
    together = transform(texts)
    for row, text in enumerate(texts):
        alone = transform([text], fitted_on=texts)
        for kind in (WORD, CHAR):
            assert (together[kind][row] != alone[kind][0]).nnz == 0, text
    assert together[WORD][1].nnz == together[CHAR][1].nnz == 0


def test_each_kind_is_l2_normalised_over_the_ngrams_seen_in_training_only():
    word, char = transform(["help me now", "zzqx help"], fitted_on=["help me now"])
    for block in (word, char):
        assert np.allclose(np.sqrt(block.multiply(block).sum(axis=1)).A.ravel(), 1.0)
    # "zzqx" and "zzqx help" are unknown: they do not dilute "help"
    assert np.isclose(word[1].sum(), 1.0)


def test_rarer_ngrams_weigh_more():
    idf = smooth_idf(np.array([1, 5]), 10)
    assert idf[0] > idf[1] > 1.0


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


ODD_TEXTS = [
    "",
    "   ",
    "x",
    "  two  spaces  inside  ",
    "¡Socorro! Incendio en la calle Ñandú, ÀÉÎ straße İstanbul",
    "日本語 テキスト 🚒🔥 fire!!",
    "w" * 200,
    "!!! ??? ...",
    "tab\tnew\nline\u00a0nbsp\u2028sep",
]


def test_compiled_features_are_the_numpy_features_bit_for_bit_on_the_gold_texts(gold_texts):
    texts = list(gold_texts)
    model = TextModel.load()
    idf = [kind.idf for kind in model.kinds]
    for batch in (texts, ODD_TEXTS, ["   "], []):
        compiled = blocks(batch, model.columns, idf)
        reference = blocks_in_numpy(batch, model.columns, idf)
        for fast, slow in zip(compiled, reference, strict=True):
            assert fast.shape == slow.shape
            assert np.array_equal(fast.indptr, slow.indptr)
            assert np.array_equal(fast.indices, slow.indices)
            assert np.array_equal(fast.data, slow.data)  # the same floats, not close ones


def test_compiled_products_sum_as_scipy_does_so_the_scores_are_identical(gold_texts):
    texts = [*gold_texts, *ODD_TEXTS]
    model = TextModel.load()
    idf = [kind.idf for kind in model.kinds]
    by_scipy = np.tile(model.bias, (len(texts), 1))
    for block, kind in zip(blocks_in_numpy(texts, model.columns, idf), model.kinds, strict=True):
        by_scipy += block @ kind.weights
    compiled = np.tile(model.bias, (len(texts), 1))
    for entries, kind in zip(known_ngrams(texts, model.columns, idf), model.kinds, strict=True):
        add_products(compiled, entries, kind.weights)
    assert np.array_equal(compiled, by_scipy)
