"""The DropBack post-step on the CPU in one C function, called by ctypes (optional).

On a small model the torch post-step is some 45 tensor operations, each a pass over memory
or a few microseconds of dispatch; `select_and_reset` does the same work in two passes and
a little bookkeeping:

1. the largest score |w - w0| of the unselected elements of each block of BLOCK;
2. the candidates: the previous set plus the unselected elements scoring >= t, found in the
   blocks whose maximum reaches t (t: the caller's guess, else a valid lower one: the same
   threshold rule as `accelsim.dropback.topk`), ranked by a 64-bit order key (score bits,
   then the complement of the position: higher score first, lower position first), the k
   highest kept: the new set, entrants, leavers;
3. w <- w0 and every optimizer state entry <- 0 outside the new set.

Only float32 subtraction, absolute value, comparisons and copies: the same bits as the torch
path, which `tests/test_dropback_fused.py` checks step by step over many steps and against
a full sort. The source is compiled once by `accelsim.native` with the system C compiler (no
-ffast-math; with -march=native, so the cached library's name carries the CPU's flags); without
a compiler, or on any failure, `library()` returns None and DropBack keeps the torch path.
"""

from __future__ import annotations

import ctypes
import struct

from accelsim import native

_SOURCE = r"""
#include <math.h>
#include <stdint.h>
#include <string.h>

/* order key: higher score first, then lower position (unique; scores >= 0, not NaN) */
static uint64_t order_key(float score, int64_t position) {
    uint32_t bits;
    memcpy(&bits, &score, sizeof bits);
    return ((uint64_t)bits << 32) | (uint64_t)(0xFFFFFFFFu - (uint32_t)position);
}

/* keys[nth] <- the nth smallest, smaller ones before it (quickselect, median of three) */
static void select_nth(uint64_t *keys, int64_t count, int64_t nth) {
    int64_t lo = 0, hi = count - 1;
    while (hi > lo) {
        int64_t mid = lo + (hi - lo) / 2;
        uint64_t a = keys[lo], b = keys[mid], c = keys[hi];
        uint64_t pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (keys[i] < pivot) i++;
            while (keys[j] > pivot) j--;
            if (i <= j) {
                uint64_t t = keys[i]; keys[i] = keys[j]; keys[j] = t;
                i++; j--;
            }
        }
        if (nth <= j) hi = j;
        else if (nth >= i) lo = i;
        else return;
    }
}

/* keys[e] <- the (e+1)-th smallest of keys[0..count) (an insertion list when e is small,
   else a quickselect that reorders keys) */
static uint64_t smallest_nth(uint64_t *keys, int64_t count, int64_t e) {
    enum { FEW = 32 };
    if (e < FEW) {
        uint64_t low[FEW + 1];
        int64_t filled = 0;
        for (int64_t j = 0; j < count; j++) {
            uint64_t key = keys[j];
            if (filled > e && key >= low[e]) continue;
            int64_t at = filled <= e ? filled++ : e;
            while (at > 0 && low[at - 1] > key) { low[at] = low[at - 1]; at--; }
            low[at] = key;
        }
        return low[e];
    }
    select_nth(keys, count, e);
    return keys[e];
}


/* w <- w0 and each state buffer <- 0 where untracked. */
void reset_untracked(float *w, const float *w0, const uint8_t *tracked, int64_t n,
                     float **states, int64_t state_count) {
    for (int64_t i = 0; i < n; i++) w[i] = tracked[i] ? w[i] : w0[i];
    for (int64_t s = 0; s < state_count; s++) {
        float *state = states[s];
        for (int64_t i = 0; i < n; i++) state[i] = tracked[i] ? state[i] : 0.0f;
    }
}
/* The largest score |w - w0| of the unselected elements of each block of BLOCK (+inf if
   one is NaN; -1 if every element of the block is selected). Non-negative float32 values
   order like their bits as int32 (and -1 is negative): an integer maximum, in two simple
   loops over a block-sized buffer so that both vectorize. */
enum { BLOCK = 64 };
static void block_maxima(const float *w, const float *w0, const uint8_t *tracked, int64_t n,
                         float *block_max) {
    float scores[BLOCK];
    for (int64_t start = 0, b = 0; start < n; start += BLOCK, b++) {
        int64_t size = start + BLOCK < n ? BLOCK : n - start;
        const float *wb = w + start, *w0b = w0 + start;
        const uint8_t *tb = tracked + start;
        for (int64_t i = 0; i < size; i++) {
            float s = fabsf(wb[i] - w0b[i]);
            scores[i] = tb[i] ? -1.0f : s;
        }
        int32_t top = INT32_MIN;
        for (int64_t i = 0; i < size; i++) {
            int32_t v;
            memcpy(&v, &scores[i], sizeof v);
            top = v > top ? v : top;
        }
        float result;
        memcpy(&result, &top, sizeof result);
        block_max[b] = top < 0 ? -1.0f : (top > 0x7F800000 ? INFINITY : result);
    }
}

/* One DropBack post-step: the exact top-k given the previous set (`previous`, k positions,
   marked in `tracked`), then the reset of everything outside it (w <- w0, states <- 0).
   A threshold t is valid when k elements score >= t; then the new set lies among the
   previous set and the unselected elements scoring >= t (found through block maxima), and
   is their k highest by order key. t is the caller's guess (at least the lowest previous
   score, which is always valid), or, if that proves invalid, the k-th largest score among
   its candidates. Writes the new set into `index` (previous order,
   entrants in the freed slots), `entered`, `left`, marks it in `tracked`, and
   result[0..2] = entered count, candidate count, k-th score bits. keys: room for n;
   block_max: one per block. Returns 0, or 1 (nothing changed) if a previous score is NaN:
   the caller ranks everything. */
int select_and_reset(float *w, const float *w0, uint8_t *tracked, int64_t n,
                     const int64_t *previous, int64_t k, float guess, float **states,
                     int64_t state_count, float *block_max, uint64_t *keys,
                     int64_t *index, int64_t *entered, int64_t *left, int64_t *result) {
    float floor = INFINITY;
    for (int64_t j = 0; j < k; j++) {
        float s = fabsf(w[previous[j]] - w0[previous[j]]);
        if (s != s) return 1;
        floor = s < floor ? s : floor;
    }
    block_maxima(w, w0, tracked, n, block_max);
    float t = guess > floor ? guess : floor;
    int64_t count;
    for (;;) {
        int64_t reaching = 0;
        for (int64_t j = 0; j < k; j++) {
            float s = fabsf(w[previous[j]] - w0[previous[j]]);
            reaching += s >= t;
            keys[j] = order_key(s, previous[j]);
        }
        count = k;
        for (int64_t start = 0, b = 0; start < n; start += BLOCK, b++) {
            if (!(block_max[b] >= t)) continue;
            int64_t end = start + BLOCK < n ? start + BLOCK : n;
            for (int64_t i = start; i < end; i++) {
                float s = fabsf(w[i] - w0[i]);
                if (!tracked[i] && s >= t) keys[count++] = order_key(s, i);
            }
        }
        reaching += count - k;
        if (reaching >= k || t <= floor) break;
        /* the guess was too high: the k-th largest candidate score is valid (k candidates
           reach it) and below it; the keys are rebuilt from the previous set next round */
        uint64_t kth_candidate = smallest_nth(keys, count, count - k);
        uint32_t bits = (uint32_t)(kth_candidate >> 32);
        memcpy(&t, &bits, sizeof t);
    }
    uint64_t kth = smallest_nth(keys, count, count - k);
    int64_t entering = 0, leaving = 0;
    for (int64_t j = 0; j < count; j++) {
        int64_t position = 0xFFFFFFFFu - (uint32_t)(keys[j] & 0xFFFFFFFFu);
        if (keys[j] >= kth) {
            if (!tracked[position]) entered[entering++] = position;
        } else if (tracked[position]) {
            left[leaving++] = position;
        }
    }
    for (int64_t j = 0; j < leaving; j++) tracked[left[j]] = 0;
    for (int64_t j = 0; j < entering; j++) tracked[entered[j]] = 1;
    for (int64_t j = 0, m = 0; j < k; j++) {
        index[j] = tracked[previous[j]] ? previous[j] : entered[m++];
    }
    reset_untracked(w, w0, tracked, n, states, state_count);
    result[0] = entering;
    result[1] = count;
    result[2] = (int64_t)(kth >> 32);
    return 0;
}

"""

# no -ffast-math: IEEE semantics (NaN checks, exact subtraction) are what makes it bit-equal;
# -march=native lets the score and reset loops use the machine's vector width (the cached
# library's name carries the CPU's flags, so another machine builds its own)
_FLAGS = ("-O3", "-march=native", "-shared", "-fPIC", "-fno-fast-math", "-ffp-contract=off")
_cached: list = []  # [library or None], once per process
BLOCK = 64  # elements per block maximum (the C source's BLOCK)
NEED_FULL_RANKING = 1  # select_and_reset: a NaN among the previous scores


def library():
    """The compiled loops (ctypes.CDLL), or None where they cannot be built."""
    if _cached:
        return _cached[0]
    lib = native.load("dropback-fused", _SOURCE, _FLAGS)
    if lib is not None:
        _declare(lib)
    _cached.append(lib)
    return lib


def _declare(lib) -> None:
    pointer, size = ctypes.c_void_p, ctypes.c_int64
    lib.select_and_reset.argtypes = [pointer, pointer, pointer, size, pointer, size,
                                     ctypes.c_float, pointer, size, pointer, pointer, pointer,
                                     pointer, pointer, pointer]
    lib.select_and_reset.restype = ctypes.c_int
    lib.reset_untracked.argtypes = [pointer, pointer, pointer, size, pointer, size]
    lib.reset_untracked.restype = None


def _addresses(tensors):
    return (ctypes.c_void_p * max(1, len(tensors)))(*[t.data_ptr() for t in tensors])


class FusedSelection:
    """Scratch buffers of the fused post-step, kept between steps (one per DropBack)."""

    def __init__(self, lib, count: int, param_count: int):
        import torch

        self.lib = lib
        # two index buffers, in turn: the new set is written while the last one is read
        self._indices = [torch.empty(count, dtype=torch.int64) for _ in range(2)]
        self.index = self._indices[0]
        self.entered = torch.empty(count, dtype=torch.int64)
        self.left = torch.empty(count, dtype=torch.int64)
        self.result = torch.zeros(3, dtype=torch.int64)
        self.keys = torch.empty(param_count, dtype=torch.int64)  # room for every element
        self._states: tuple = ((), _addresses([]))  # (data pointers, their ctypes array)

    def select_and_reset(self, flat, initial, tracked, previous, states, guess: float,
                         block_max):
        """(index, entered, left, k-th score), with every element outside the
        new set reset (w0; `states` zero) and `tracked` marking the new set; or None, with
        nothing changed, if a previous score is NaN. Tensors: contiguous, CPU, float32."""
        pointers = tuple(state.data_ptr() for state in states)
        if pointers != self._states[0]:
            self._states = (pointers, _addresses(states))
        self.index = self._indices[1] if previous is self._indices[0] else self._indices[0]
        code = self.lib.select_and_reset(
            flat.data_ptr(), initial.data_ptr(), tracked.data_ptr(), flat.numel(),
            previous.data_ptr(), previous.numel(), guess, self._states[1], len(states),
            block_max.data_ptr(), self.keys.data_ptr(), self.index.data_ptr(),
            self.entered.data_ptr(),
            self.left.data_ptr(), self.result.data_ptr())
        if code == NEED_FULL_RANKING:
            return None
        entering, _, kth_bits = self.result.tolist()
        kth_score = struct.unpack("<f", struct.pack("<I", kth_bits))[0]
        # entered and left are views, valid until the next call (the caller only counts them)
        return self.index, self.entered[:entering], self.left[:entering], kth_score


def reset_untracked(lib, flat, initial, tracked, states) -> None:
    """w <- w0 and every state buffer <- 0 where `tracked` is False."""
    lib.reset_untracked(flat.data_ptr(), initial.data_ptr(), tracked.data_ptr(), flat.numel(),
                        _addresses(states), len(states))
