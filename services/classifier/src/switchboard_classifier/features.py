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

The hash is a polynomial over code points finished by a splitmix64 mix: the
same on every machine and in every process (Python's `hash` of str is not).
Pure: no Kafka, no faust.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped,import-not-found,unused-ignore]

N_FEATURES = 2**20
WORD, CHAR = 0, 1  # the column blocks: words in [0, N), characters in [N, 2N)
CHAR_NGRAMS = (2, 3, 4, 5)
DESCRIPTION = (
    "hashed word 1-2-grams + char_wb 2-5-grams (numpy polynomial hash, splitmix64), "
    "2x2^20, each kind scaled by 1/sqrt(count)"
)

_NON_WORD = re.compile(r"[\W_]+")
_SPACE = 32
_MULT = np.uint64(0x100000001B3)  # odd, so the polynomial hash spreads
_MAX_WORD = 64  # letters past this many in one word share a multiplier; harmless
_POWERS = np.cumprod(np.full(_MAX_WORD, _MULT, dtype=np.uint64)) // _MULT
_POWERS[0] = 1
_SALT_WORD = np.uint64(0x9E3779B97F4A7C15)
_SALT_BIGRAM = np.uint64(0xC2B2AE3D27D4EB4F)
_MASK = np.uint64(N_FEATURES - 1)

UInt = np.ndarray[Any, np.dtype[np.uint64]]
Int = np.ndarray[Any, np.dtype[np.intp]]


def _mix(h: UInt) -> UInt:
    """splitmix64's finaliser: every input bit reaches the low bits kept as the bucket."""
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _normalise(texts: Sequence[str]) -> list[str]:
    return [_NON_WORD.sub(" ", text.lower()).strip() for text in texts]


def hashed_ngrams(texts: Sequence[str]) -> tuple[list[tuple[Int, Int]], Int]:
    """For each kind (WORD, CHAR): (row of each n-gram, bucket of each n-gram); and row lengths.

    Rows are in text order and n-grams of one text are contiguous, so the
    pairs can become CSR matrices without sorting.
    """
    cleaned = _normalise(texts)
    lengths = np.fromiter(
        (len(s) + 1 if s else 0 for s in cleaned), dtype=np.intp, count=len(texts)
    )
    # " text1 text2 ... " : every word has a space on each side; an empty text adds nothing.
    joined = "".join(" " + s for s in cleaned if s) + " "
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    row_of = np.repeat(np.arange(len(texts), dtype=np.intp), lengths)
    size = len(row_of)  # the final space belongs to no text
    space = codes == _SPACE
    spaces_before = np.concatenate(([0], np.cumsum(space)))

    # Every window of 2..5 code points at every position, as one (position, n) grid
    # read row by row, so the n-grams of a text stay together and in text order.
    widths = CHAR_NGRAMS
    grid = np.zeros((size, len(widths)), dtype=np.uint64)
    valid = np.zeros((size, len(widths)), dtype=bool)
    rolling = codes
    starts = np.arange(size)
    for n in range(2, max(widths) + 1):
        rolling = rolling[:-1] * _MULT + codes[n - 1 :]  # rolling[i] hashes codes[i : i + n]
        if n not in widths:
            continue
        column = widths.index(n)
        usable = min(size, len(rolling))
        # inside one padded word: no space strictly inside the window
        valid[:usable, column] = (
            spaces_before[starts[:usable] + n - 1] - spaces_before[starts[:usable] + 1] == 0
        )
        grid[:usable, column] = rolling[:usable] ^ np.uint64(n)
    flat = valid.ravel()
    char_rows = np.repeat(row_of, len(widths))[flat]
    char_buckets = _mix(grid.ravel()[flat])

    letters = np.flatnonzero(~space[:size]) if size else np.zeros(0, dtype=np.intp)
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
    pairs = np.zeros((len(word_hash), 2), dtype=np.uint64)
    has_next = np.zeros((len(word_hash), 2), dtype=bool)
    pairs[:, 0] = word_hash ^ _SALT_WORD
    has_next[:, 0] = True
    if len(word_hash) > 1:
        pairs[:-1, 1] = (word_hash[:-1] * _SALT_BIGRAM + word_hash[1:]) ^ _SALT_BIGRAM
        has_next[:-1, 1] = word_row[:-1] == word_row[1:]
    flat_words = has_next.ravel()
    return (
        [
            (np.repeat(word_row, 2)[flat_words], _bucket(pairs.ravel()[flat_words])),
            (char_rows, _bucket(char_buckets, mixed=True)),
        ],
        lengths,
    )


def _bucket(hashes: UInt, mixed: bool = False) -> Int:
    return ((hashes if mixed else _mix(hashes)) & _MASK).astype(np.intp)


def blocks(texts: Sequence[str], *, canonical: bool = False) -> list[sp.csr_matrix]:
    """One (len(texts), N_FEATURES) matrix per kind (WORD, CHAR), each kind scaled.

    Not canonical by default: a repeated n-gram is a repeated entry, which a
    matrix product sums anyway; `canonical` sums them (for training).
    """
    kinds, _ = hashed_ngrams(texts)
    n = len(texts)
    out = []
    for rows, buckets in kinds:
        counts = np.bincount(rows, minlength=n)
        scale = (1.0 / np.sqrt(np.maximum(counts, 1))).astype(np.float32)
        indptr = np.concatenate(([0], np.cumsum(counts)))
        block = sp.csr_matrix((scale[rows], buckets, indptr), shape=(n, N_FEATURES))
        if canonical:
            block.sum_duplicates()
        out.append(block)
    return out


def transform(texts: Sequence[str]) -> sp.csr_matrix:
    """The (len(texts), 2 * N_FEATURES) feature matrix, words then characters, duplicates summed."""
    return sp.hstack(blocks(texts, canonical=True), format="csr")
