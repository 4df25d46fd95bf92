"""Hashed word and character n-grams for a whole batch at once, in numpy.

The model's features: word 1-2-grams and character 2-5-grams inside word
boundaries (each word padded with a space on either side, like scikit-learn's
`char_wb`), hashed into `N_FEATURES` buckets per kind. scikit-learn's
`HashingVectorizer` builds these one text and one n-gram at a time in Python,
which cost more than everything else the classifier does together; here the
batch is one array of code points and every n-gram of every text is hashed
by a handful of vector operations.

Text is lower-cased and every run of non-word characters becomes one space,
so "Shots FIRED!!" and "shots fired" give the same features (the rules, not
the model, look at emphasis). Each kind is scaled by 1/sqrt(its number of
n-grams in the text), close to an l2 norm for short texts and free to compute.

The hash is a polynomial over code points, bucketed by Fibonacci hashing:
the same on every machine and in every process (Python's `hash` of str is
not).
Pure: no Kafka, no faust.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped,import-not-found,unused-ignore]

N_FEATURES = 2**20  # a power of two: buckets are the top bits of a 64-bit product
WORD, CHAR = 0, 1  # the column blocks: words in [0, N), characters in [N, 2N)
CHAR_NGRAMS = (2, 3, 4, 5)
DESCRIPTION = (
    "hashed word 1-2-grams + char_wb 2-5-grams (numpy polynomial hash, Fibonacci buckets), "
    "2x2^20, each kind scaled by 1/sqrt(count)"
)

_SPACE = 32
_MULT = np.uint64(0x100000001B3)  # odd, so the polynomial hash spreads
_MAX_WORD = 64  # letters past this many in one word share a multiplier; harmless
_POWERS = np.cumprod(np.full(_MAX_WORD, _MULT, dtype=np.uint64)) // _MULT
_POWERS[0] = 1
_SALT_WORD = np.uint64(0x9E3779B97F4A7C15)
_SALT_BIGRAM = np.uint64(0xC2B2AE3D27D4EB4F)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SHIFT = np.uint64(64 - 20)  # keep the top 20 bits: N_FEATURES buckets

UInt = np.ndarray[Any, np.dtype[np.uint64]]
Int = np.ndarray[Any, np.dtype[np.intp]]


def _word_characters() -> np.ndarray[Any, np.dtype[np.bool_]]:
    # Letters and digits below U+3000 by Python's own rule; everything from there on
    # (CJK, emoji) counts as a letter.
    table = np.array([chr(c).isalnum() for c in range(_TABLE_END)] + [True])
    return table


_TABLE_END = 0x3000
_IS_WORD = _word_characters()


def hashed_ngrams(texts: Sequence[str]) -> list[tuple[Int, Int]]:
    """For each kind (WORD, CHAR): the row of each n-gram and its bucket.

    Rows are in text order and n-grams of one text are contiguous, so the
    pairs can become CSR matrices without sorting.
    """
    n = len(texts)
    lowered = [" " + text.lower() for text in texts]
    # " text1 text2 ... " + a final space of row n (no text): a space before every text.
    codes = np.frombuffer(("".join(lowered) + " ").encode("utf-32-le"), dtype=np.uint32)
    lengths = [len(t) for t in lowered]
    lengths.append(1)
    row_of = np.repeat(np.arange(n + 1, dtype=np.intp), lengths)
    # Every run of non-word characters becomes one space: the last of the run, which
    # belongs to the text of the word after it.
    space = ~_IS_WORD[np.minimum(codes, _TABLE_END)]
    keep = ~(space[:-1] & space[1:])
    keep = np.append(keep, True)
    codes = np.where(space, _SPACE, codes)[keep].astype(np.uint64)
    space, row_of = space[keep], row_of[keep]
    size = int(np.searchsorted(row_of, n))  # positions that belong to a text
    letter = ~space

    # Every window of 2..5 code points at every position, as one (position, n) grid
    # read row by row, so the n-grams of a text stay together and in text order.
    widths = CHAR_NGRAMS
    grid = np.empty((size, len(widths)), dtype=np.uint64)
    valid = np.zeros((size, len(widths)), dtype=bool)
    rolling = codes
    inside = np.ones(len(codes), dtype=bool)  # window i has no space strictly inside
    for n in range(2, max(widths) + 1):
        rolling = rolling[:-1] * _MULT + codes[n - 1 :]  # rolling[i] hashes codes[i : i + n]
        if n > 2:
            inside = inside[:-1] & letter[n - 2 :]  # the window's new inner character
        if n not in widths:
            continue
        column = widths.index(n)
        usable = min(size, len(rolling))
        valid[:usable, column] = inside[:usable]
        grid[:usable, column] = rolling[:usable] + np.uint64(n)
    flat = valid.ravel()
    char_rows = np.repeat(row_of[:size], len(widths))[flat]
    char_hashes = grid.ravel()[flat]

    letters = np.flatnonzero(letter[:size])
    starts_word = space[letters - 1]  # a letter after a space starts a word
    first = np.flatnonzero(starts_word)
    word_index = np.cumsum(starts_word) - 1
    offset = np.minimum(np.arange(len(letters)) - first[word_index], _MAX_WORD - 1)
    if len(letters):
        word_hash = np.add.reduceat(codes[letters] * _POWERS[offset], first)
    else:
        word_hash = np.zeros(0, dtype=np.uint64)
    word_row = row_of[letters[first]]
    # (unigram, bigram with the next word) per word, read row by row as above
    pairs = np.empty((len(word_hash), 2), dtype=np.uint64)
    has_next = np.zeros((len(word_hash), 2), dtype=bool)
    pairs[:, 0] = word_hash ^ _SALT_WORD
    has_next[:, 0] = True
    if len(word_hash) > 1:
        pairs[:-1, 1] = word_hash[:-1] * _SALT_BIGRAM + word_hash[1:]
        has_next[:-1, 1] = word_row[:-1] == word_row[1:]
    flat_words = has_next.ravel()
    return [
        (np.repeat(word_row, 2)[flat_words], _bucket(pairs.ravel()[flat_words])),
        (char_rows, _bucket(char_hashes)),
    ]


def _bucket(hashes: UInt) -> Int:
    # Fibonacci hashing: the top bits of the product depend on every bit of the hash.
    return ((hashes * _GOLDEN) >> _SHIFT).astype(np.intp)


def blocks(
    texts: Sequence[str],
    *,
    canonical: bool = False,
    columns: Sequence[np.ndarray[Any, np.dtype[np.int32]]] | None = None,
) -> list[sp.csr_matrix]:
    """One (len(texts), N_FEATURES) matrix per kind (WORD, CHAR), each kind scaled.

    Not canonical by default: a repeated n-gram is a repeated entry, which a
    matrix product sums anyway; `canonical` sums them (for training).
    `columns` (one array per kind: bucket -> column, or -1) maps the buckets a
    model has weights for onto its own columns and drops the others, after
    they have counted towards the scale.
    """
    kinds = hashed_ngrams(texts)
    n = len(texts)
    out = []
    for kind, (rows, buckets) in enumerate(kinds):
        counts = np.bincount(rows, minlength=n)
        scale = (1.0 / np.sqrt(np.maximum(counts, 1))).astype(np.float32)
        width = N_FEATURES
        if columns is not None:
            mapped = columns[kind][buckets]
            keep = mapped >= 0
            rows, buckets = rows[keep], mapped[keep].astype(np.intp)
            counts = np.bincount(rows, minlength=n)
            width = int(columns[kind].max()) + 1
        indptr = np.concatenate(([0], np.cumsum(counts)))
        block = sp.csr_matrix((scale[rows], buckets, indptr), shape=(n, width))
        if canonical:
            block.sum_duplicates()
        out.append(block)
    return out


def transform(texts: Sequence[str]) -> sp.csr_matrix:
    """The (len(texts), 2 * N_FEATURES) feature matrix, words then characters, duplicates summed."""
    return sp.hstack(blocks(texts, canonical=True), format="csr")
