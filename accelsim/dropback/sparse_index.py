"""Compact encodings of a layer's tracked positions (the sparse checkpoint's index).

Three encodings of an ascending set of distinct positions in [0, n); `encode_index` picks the
smallest (ties to the first in `ENCODINGS`):

``bitmap``
    one bit per element, ceil(n / 8) uint8 bytes; bit j of byte i is element 8i + j (least
    significant bit first); the padding bits of the last byte are 0.
``gap8``, ``gap16``
    per position p_i in ascending order, the gap g = p_i - p_(i-1) - 1 (p_(-1) = -1) written
    as floor(g / E) escape words of value E = 2**bits - 1 followed by one word g mod E (< E,
    so a word other than E always ends a gap). gap16 words are stored as int16 bit patterns.

These are the two index formats of the hardware model (`accelsim.config.IndexConfig`: a bitmap
of one bit per weight, or a relative index of index_bits per tracked weight), the relative
one with the escape words that a gap wider than its range needs. Numpy only: no torch.
"""

from __future__ import annotations

import numpy as np

ENCODINGS = ("bitmap", "gap8", "gap16")
# encoding -> (stored word dtype, escape word value)
_GAP_WORDS: dict[str, tuple[np.dtype, int]] = {"gap8": (np.dtype(np.uint8), 0xFF),
                                               "gap16": (np.dtype(np.int16), 0xFFFF)}


class IndexFormatError(ValueError):
    """Encoded words that do not describe a valid position set (one line, no file name)."""


def _gaps(positions: np.ndarray) -> np.ndarray:
    return np.diff(positions, prepend=-1) - 1


def encoded_bytes(positions, n: int) -> dict[str, int]:
    """{encoding: bytes} of each encoding of `positions` (ascending, distinct, in [0, n))."""
    gaps = _gaps(np.asarray(positions, dtype=np.int64))
    sizes = {"bitmap": -(-int(n) // 8)}
    for name, (dtype, escape) in _GAP_WORDS.items():
        sizes[name] = int((gaps // escape + 1).sum()) * dtype.itemsize
    return sizes


def encode_index(positions, n: int, encoding: str | None = None) -> tuple[str, np.ndarray]:
    """(encoding, words) of `positions` (ascending, distinct, in [0, n)): the named encoding,
    or the smallest of `ENCODINGS` when None."""
    positions = np.asarray(positions, dtype=np.int64)
    if encoding is None:
        sizes = encoded_bytes(positions, n)
        name = min(ENCODINGS, key=lambda e: (sizes[e], ENCODINGS.index(e)))
    elif encoding in ENCODINGS:
        name = encoding
    else:
        raise ValueError(f"encoding: expected one of {list(ENCODINGS)}, got {encoding!r}")
    if name == "bitmap":
        mask = np.zeros(int(n), dtype=bool)
        mask[positions] = True
        return name, np.packbits(mask, bitorder="little")
    dtype, escape = _GAP_WORDS[name]
    gaps = _gaps(positions)
    word_counts = gaps // escape + 1
    words = np.full(int(word_counts.sum()), escape, dtype=np.int64)
    words[np.cumsum(word_counts) - 1] = gaps % escape
    if dtype == np.int16:  # the 16-bit pattern of each word, in a signed container
        return name, words.astype(np.uint16).view(np.int16)
    return name, words.astype(dtype)


def decode_index(encoding: str, words, n: int) -> np.ndarray:
    """Ascending int64 positions from `encode_index`'s words; IndexFormatError if the words
    are not a valid encoding of positions in [0, n)."""
    words = np.asarray(words)
    if encoding == "bitmap":
        if words.dtype != np.uint8 or words.size != -(-int(n) // 8):
            raise IndexFormatError(f"bitmap: expected {-(-int(n) // 8)} uint8 bytes for {n} "
                                   f"elements, got {words.size} of {words.dtype}")
        bits = np.unpackbits(words.reshape(-1), bitorder="little")
        if bits[int(n):].any():
            raise IndexFormatError("bitmap: expected zero padding bits past the last element, "
                                   "got a set one")
        return np.flatnonzero(bits[:int(n)]).astype(np.int64)
    if encoding not in _GAP_WORDS:
        raise IndexFormatError(f"index_encoding: expected one of {list(ENCODINGS)}, "
                               f"got {encoding!r}")
    dtype, escape = _GAP_WORDS[encoding]
    if words.dtype != dtype:
        raise IndexFormatError(f"{encoding}: expected {dtype} words, got {words.dtype}")
    values = words.reshape(-1).astype(np.int64)
    if dtype == np.int16:
        values &= 0xFFFF
    if values.size and values[-1] == escape:
        raise IndexFormatError(f"{encoding}: expected a last word below {escape} (it ends a "
                               f"gap), got an escape word")
    ends = np.flatnonzero(values != escape)
    escapes = np.diff(ends, prepend=-1) - 1
    positions = np.cumsum(escapes * escape + values[ends] + 1) - 1
    if positions.size and positions[-1] >= n:
        raise IndexFormatError(f"{encoding}: expected positions below {n}, got "
                               f"{int(positions[-1])}")
    return positions
