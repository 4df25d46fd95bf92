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
the model, look at emphasis). Only the buckets seen in training have a
column; each is weighted by its inverse document frequency and each kind is
l2-normalised over the known n-grams of the text (see `blocks`).

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

from switchboard_classifier.compiled import jit

N_FEATURES = 2**20  # a power of two: buckets are the top bits of a 64-bit product
WORD, CHAR = 0, 1  # the column blocks: words in [0, N), characters in [N, 2N)
CHAR_NGRAMS = (2, 3, 4, 5)
DESCRIPTION = (
    "hashed word 1-2-grams + char_wb 2-5-grams (numpy polynomial hash, Fibonacci buckets), "
    "2x2^20, tf-idf (smoothed idf) l2-normalised per kind over the buckets seen in training"
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
_IS_SPACE = np.array([chr(c).isspace() for c in range(_TABLE_END)] + [False])
_IS_NOT_WORD = ~_IS_WORD


def _collapse(
    raw: np.ndarray[Any, Any], raw_rows: Int, separator: np.ndarray[Any, Any], n: int
) -> tuple[UInt, np.ndarray[Any, Any], Int, int]:
    """Every run of separators becomes one space: the last of the run, which belongs
    to the text of the word after it. (codes, is-space, row of each, positions in texts)."""
    keep = np.append(~(separator[:-1] & separator[1:]), True)
    codes = np.where(separator, _SPACE, raw)[keep].astype(np.uint64)
    space, row_of = separator[keep], raw_rows[keep]
    return codes, space, row_of, int(np.searchsorted(row_of, n))


def _code_points(texts: Sequence[str]) -> tuple[np.ndarray[Any, np.dtype[np.uint32]], list[int]]:
    """The batch's lower-cased code points, and how many belong to each row.

    " text1 text2 ... " + a final space of row n (no text): a space before every text.
    """
    lowered = [" " + text.lower() for text in texts]
    raw = np.frombuffer(("".join(lowered) + " ").encode("utf-32-le"), dtype=np.uint32)
    lengths = [len(t) for t in lowered]
    lengths.append(1)
    return raw, lengths


def _char_ngrams(
    codes: UInt, space: np.ndarray[Any, Any], row_of: Int, size: int
) -> tuple[Int, UInt]:
    """(row, hash) of every character 2-5-gram with no space strictly inside."""
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
    return np.repeat(row_of[:size], len(widths))[flat], grid.ravel()[flat]


def hashed_ngrams(texts: Sequence[str]) -> list[tuple[Int, Int]]:
    """For each kind (WORD, CHAR): the row of each n-gram and its bucket.

    Rows are in text order and n-grams of one text are contiguous, so the
    pairs can become CSR matrices without sorting.
    """
    n = len(texts)
    raw, lengths = _code_points(texts)
    raw_rows = np.repeat(np.arange(n + 1, dtype=np.intp), lengths)
    clipped = np.minimum(raw, _TABLE_END)
    # Characters: words split at white space only, as scikit-learn's char_wb does, so
    # "help!!" and "5th & main" keep their punctuation (a measured gain: see
    # docs/classifier.md). Words: runs of letters and digits.
    codes, space, row_of, size = _collapse(raw, raw_rows, _IS_SPACE[clipped], n)
    char_rows, char_hashes = _char_ngrams(codes, space, row_of, size)
    codes, space, row_of, size = _collapse(raw, raw_rows, ~_IS_WORD[clipped], n)
    letter = ~space

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


def document_frequencies(texts: Sequence[str]) -> list[tuple[Int, Int]]:
    """For each kind (WORD, CHAR): the buckets seen in `texts` (sorted) and in how many texts each."""
    out = []
    for rows, buckets in hashed_ngrams(texts):
        pairs = np.unique(rows.astype(np.int64) * N_FEATURES + buckets)
        seen, df = np.unique(pairs % N_FEATURES, return_counts=True)
        out.append((seen.astype(np.intp), df.astype(np.intp)))
    return out


def smooth_idf(df: Int, n_texts: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    """scikit-learn's smoothed inverse document frequency: ln((1 + n) / (1 + df)) + 1."""
    idf: np.ndarray[Any, np.dtype[np.float64]] = np.log((1.0 + n_texts) / (1.0 + df)) + 1.0
    return idf


def blocks_in_numpy(
    texts: Sequence[str],
    columns: Sequence[np.ndarray[Any, np.dtype[np.int32]]],
    idf: Sequence[np.ndarray[Any, np.dtype[np.float64]]],
) -> list[sp.csr_matrix]:
    """`blocks` by numpy passes over `hashed_ngrams`: the definition the compiled path keeps.

    One (len(texts), len(idf[kind])) TF-IDF matrix per kind (WORD, CHAR).

    `columns[kind]` maps a bucket onto the model's column for it (-1: a bucket
    never seen in training, dropped); `idf[kind]` is each column's weight.
    Each n-gram occurrence weighs its column's idf, and a text's entries of
    one kind are divided by the root of the sum of their squares, counted
    over the n-grams the model knows only: an unknown n-gram (a typo, a
    name) must not dilute the known ones, which is what a vocabulary-based
    TF-IDF does and what hashing every n-gram into the norm did not.
    A repeated n-gram is a repeated entry, which a matrix product sums; the
    norm counts each occurrence, so it equals the l2 norm except for texts
    that repeat an n-gram (rare in posts, and the same at training time).
    """
    n = len(texts)
    out = []
    for kind, (rows, buckets) in enumerate(hashed_ngrams(texts)):
        mapped = columns[kind][buckets]
        keep = mapped >= 0
        rows, mapped = rows[keep], mapped[keep].astype(np.intp)
        values = idf[kind][mapped]
        counts = np.bincount(rows, minlength=n)
        norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=n))
        values = values / norms[rows]
        indptr = np.concatenate(([0], np.cumsum(counts)))
        out.append(sp.csr_matrix((values, mapped, indptr), shape=(n, len(idf[kind]))))
    return out


def column_map(seen: Int) -> np.ndarray[Any, np.dtype[np.int32]]:
    """bucket -> column (its index in the sorted `seen`), -1 for every other bucket."""
    column = np.full(N_FEATURES, -1, dtype=np.int32)
    column[seen] = np.arange(len(seen), dtype=np.int32)
    return column


# --- the same features, compiled ------------------------------------------------------------
# `hashed_ngrams` and `blocks_in_numpy` make a few dozen numpy passes over the batch, each
# building arrays as long as all its text; at inference that was two thirds of the model's
# time. The kernels below walk the same code points once, in the same order, and give the
# same CSR entries bit for bit (n-grams in the same order, sums taken in the same order),
# so the model's scores are unchanged: a test holds the two paths equal (see `compiled`).


@jit
def _collapsed_kernel(raw: Any, ends: Any, n: int, separator_table: Any) -> Any:
    """`_collapse` in one pass: (codes, is-space, row of each, how many, positions in texts)."""
    length = len(raw)
    codes = np.empty(length, dtype=np.uint64)
    space = np.empty(length, dtype=np.bool_)
    rows = np.empty(length, dtype=np.intp)
    last_entry = len(separator_table) - 1
    kept = 0
    size = 0
    row = 0
    for i in range(length):
        while i >= ends[row]:
            row += 1
        separator = separator_table[min(raw[i], last_entry)]
        if separator and i + 1 < length and separator_table[min(raw[i + 1], last_entry)]:
            continue  # a run of separators keeps its last
        codes[kept] = _SPACE if separator else raw[i]
        space[kept] = separator
        rows[kept] = row
        kept += 1
        if row < n:
            size = kept
    return codes, space, rows, kept, size


@jit
def _keep_known(entry_rows: Any, entry_columns: Any, count: int, row: int, column: int) -> int:
    """Appends the entry (row, column) when the n-gram's bucket has a column (-1: unseen in
    training); how many entries there are now."""
    if column < 0:
        return count
    entry_rows[count] = row
    entry_columns[count] = column
    return count + 1


@jit
def _normalised_kernel(entry_rows: Any, entry_columns: Any, count: int, n: int, idf: Any) -> Any:
    """CSR (indptr, columns, values) of the known entries: idf, l2-normalised per row."""
    indptr = np.zeros(n + 1, dtype=np.intp)
    squares = np.zeros(n, dtype=np.float64)
    values = np.empty(count, dtype=np.float64)
    for e in range(count):
        value = idf[entry_columns[e]]
        values[e] = value
        squares[entry_rows[e]] += value * value
        indptr[entry_rows[e] + 1] += 1
    for row in range(n):
        indptr[row + 1] += indptr[row]
    for e in range(count):
        values[e] = values[e] / np.sqrt(squares[entry_rows[e]])
    return indptr, entry_columns[:count].copy(), values


@jit
def _char_kernel(raw: Any, ends: Any, n: int, columns: Any, idf: Any) -> Any:
    codes, space, rows, kept, size = _collapsed_kernel(raw, ends, n, _IS_SPACE)
    entry_rows = np.empty(size * len(CHAR_NGRAMS), dtype=np.intp)
    entry_columns = np.empty(size * len(CHAR_NGRAMS), dtype=np.intp)
    count = 0
    for i in range(size):
        rolling = codes[i]
        for width in range(2, 6):
            last = i + width - 1
            # the window must fit, with no space strictly inside (then no longer one either)
            if last >= kept or (width > 2 and space[last - 1]):
                break
            rolling = rolling * _MULT + codes[last]
            column = columns[((rolling + np.uint64(width)) * _GOLDEN) >> _SHIFT]
            count = _keep_known(entry_rows, entry_columns, count, rows[i], column)
    return _normalised_kernel(entry_rows, entry_columns, count, n, idf)


@jit
def _word_kernel(raw: Any, ends: Any, n: int, columns: Any, idf: Any) -> Any:
    codes, space, rows, _, size = _collapsed_kernel(raw, ends, n, _IS_NOT_WORD)
    hashes = np.zeros(size, dtype=np.uint64)
    word_rows = np.empty(size, dtype=np.intp)
    words = 0
    offset = 0
    for i in range(size):
        if space[i]:
            continue
        if space[i - 1]:  # a letter after a space starts a word (position 0 is a space)
            word_rows[words] = rows[i]
            words += 1
            offset = 0
        hashes[words - 1] += codes[i] * _POWERS[min(offset, _MAX_WORD - 1)]
        offset += 1
    entry_rows = np.empty(2 * words, dtype=np.intp)
    entry_columns = np.empty(2 * words, dtype=np.intp)
    count = 0
    for k in range(words):
        column = columns[((hashes[k] ^ _SALT_WORD) * _GOLDEN) >> _SHIFT]
        count = _keep_known(entry_rows, entry_columns, count, word_rows[k], column)
        if k + 1 < words and word_rows[k + 1] == word_rows[k]:
            bigram = hashes[k] * _SALT_BIGRAM + hashes[k + 1]
            column = columns[(bigram * _GOLDEN) >> _SHIFT]
            count = _keep_known(entry_rows, entry_columns, count, word_rows[k], column)
    return _normalised_kernel(entry_rows, entry_columns, count, n, idf)


@jit
def _add_products_kernel(scores: Any, indptr: Any, indices: Any, values: Any, weights: Any) -> None:
    """scores += the CSR matrix @ weights, summed as scipy's csr_matvecs does."""
    width = weights.shape[1]
    total = np.empty(width, dtype=np.float64)
    for row in range(scores.shape[0]):
        total[:] = 0.0
        for e in range(indptr[row], indptr[row + 1]):
            value = values[e]
            column = indices[e]
            for k in range(width):
                total[k] += value * weights[column, k]
        for k in range(width):
            scores[row, k] += total[k]


Csr = tuple[Int, Int, np.ndarray[Any, np.dtype[np.float64]]]


def known_ngrams(
    texts: Sequence[str],
    columns: Sequence[np.ndarray[Any, np.dtype[np.int32]]],
    idf: Sequence[np.ndarray[Any, np.dtype[np.float64]]],
) -> list[Csr]:
    """The entries of `blocks` as (indptr, columns, values) per kind (WORD, CHAR), compiled."""
    raw, lengths = _code_points(texts)
    ends = np.cumsum(lengths)
    n = len(texts)
    return [
        _word_kernel(raw, ends, n, columns[WORD], idf[WORD]),
        _char_kernel(raw, ends, n, columns[CHAR], idf[CHAR]),
    ]


def blocks(
    texts: Sequence[str],
    columns: Sequence[np.ndarray[Any, np.dtype[np.int32]]],
    idf: Sequence[np.ndarray[Any, np.dtype[np.float64]]],
) -> list[sp.csr_matrix]:
    """One (len(texts), len(idf[kind])) TF-IDF matrix per kind (WORD, CHAR); see `blocks_in_numpy`."""
    n = len(texts)
    return [
        sp.csr_matrix((values, indices, indptr), shape=(n, len(idf[kind])))
        for kind, (indptr, indices, values) in enumerate(known_ngrams(texts, columns, idf))
    ]


def add_products(
    scores: np.ndarray[Any, np.dtype[np.float64]],
    entries: Csr,
    weights: np.ndarray[Any, np.dtype[np.float64]],
) -> None:
    """scores += (the CSR matrix of `entries`) @ weights, with scipy's sums, without a matrix."""
    indptr, indices, values = entries
    _add_products_kernel(scores, indptr, indices, values, weights)
