"""An optional fused post-step for DropBack on the CPU: two plain C loops, called by ctypes.

On a small model the DropBack post-step is dozens of whole-buffer torch operations, each a
pass over memory plus its dispatch cost. Two loops do the same work in two passes:

``score_blocks``
    score = |w - w0| for every element; tracked ones are written as HIDDEN_SCORE into the
    scan buffer (their scores go to a separate array, in the order of the tracked index);
    the maximum of each block of SCAN_BLOCK scan-buffer elements (+inf if one is NaN).
``reset_untracked``
    w <- w0 and every optimizer state entry <- 0 where the element is untracked.

These are the same float32 operations torch does (a subtraction, an absolute value,
comparisons, copies), so the results are the same bits; `tests/test_dropback_fused.py`
checks that over many steps against the torch path. The C source is compiled once with the
system C compiler into a cache folder (`ACCELSIM_CACHE`, else ~/.cache/accelsim); without a
compiler, or on any failure, `library()` returns None and DropBack uses the torch path.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

_SOURCE = r"""
#include <math.h>
#include <stdint.h>
#include <string.h>

/* scan[i] = |w[i] - w0[i]|, or `hidden` where tracked; block_max[b] = the largest of block b
   (+inf if one is NaN). Non-negative float32 values order like their bits as int32, and
   `hidden` (-1) is negative as an int32 too: an integer maximum, which vectorizes. */
static void score_pass(const float *w, const float *w0, const uint8_t *tracked, int64_t n,
                       float *scan, float *block_max, int64_t block, float hidden) {
    for (int64_t start = 0, b = 0; start < n; start += block, b++) {
        int64_t end = start + block < n ? start + block : n;
        for (int64_t i = start; i < end; i++) {
            float s = fabsf(w[i] - w0[i]);
            scan[i] = tracked[i] ? hidden : s;
        }
        int32_t top = INT32_MIN;
        for (int64_t i = start; i < end; i++) {
            int32_t v;
            memcpy(&v, &scan[i], sizeof v);
            top = v > top ? v : top;
        }
        float result;
        memcpy(&result, &top, sizeof result);
        if (top > 0x7F800000) result = INFINITY; /* a NaN: the block is searched */
        if (end - start < block && hidden > result) result = hidden; /* padding */
        block_max[b] = result;
    }
}

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

/* The exact top-k given the previous set (`previous`, k positions, marked in `tracked`):
   candidates are the previous set plus the unselected scores >= t, where t (the caller's
   guess, else the lowest previous score) is valid when k candidates score >= t. Writes
   the new set into `index` (previous order, entrants in the freed slots), `entered`,
   `left`, updates `tracked`, and result[0..2] = entered count, candidate count, k-th score
   bits. Returns 0; 1 if a previous score is NaN (the caller ranks everything); 2 if
   `capacity` keys are too few (result[1] = the count needed). */
int select_top_k(const float *w, const float *w0, uint8_t *tracked, int64_t n,
                 const int64_t *previous, int64_t k, float guess, float *scan,
                 float *block_max, int64_t block, float hidden, uint64_t *keys,
                 uint64_t *work, int64_t capacity, int64_t *index, int64_t *entered,
                 int64_t *left, int64_t *result) {
    score_pass(w, w0, tracked, n, scan, block_max, block, hidden);
    float floor = INFINITY;
    for (int64_t j = 0; j < k; j++) {
        float s = fabsf(w[previous[j]] - w0[previous[j]]);
        if (s != s) return 1;
        floor = s < floor ? s : floor;
    }
    float t = guess > floor ? guess : floor;
    int64_t count = k;
    for (;;) {
        int64_t reaching = 0;
        count = k;
        for (int64_t j = 0; j < k; j++) {
            float s = fabsf(w[previous[j]] - w0[previous[j]]);
            reaching += s >= t;
            if (j < capacity) keys[j] = order_key(s, previous[j]);
        }
        for (int64_t start = 0, b = 0; start < n; start += block, b++) {
            if (!(block_max[b] >= t)) continue;
            int64_t end = start + block < n ? start + block : n;
            for (int64_t i = start; i < end; i++) {
                if (scan[i] >= t) {
                    if (count < capacity) keys[count] = order_key(scan[i], i);
                    count++;
                }
            }
        }
        reaching += count - k;
        if (reaching >= k || t <= floor) break;
        t = floor; /* the guess was too high: the lowest previous score is always valid */
    }
    if (count > capacity) {
        result[1] = count;
        return 2;
    }
    memcpy(work, keys, (size_t)count * sizeof *keys);
    select_nth(work, count, count - k);
    uint64_t kth = work[count - k];
    int64_t entering = 0, leaving = 0;
    for (int64_t j = k; j < count; j++) {
        if (keys[j] >= kth) {
            int64_t position = 0xFFFFFFFFu - (uint32_t)(keys[j] & 0xFFFFFFFFu);
            entered[entering++] = position;
        }
    }
    for (int64_t j = 0; j < k; j++) {
        index[j] = previous[j];
        if (keys[j] < kth) {
            left[leaving] = previous[j];
            index[j] = entered[leaving++];
        }
    }
    for (int64_t j = 0; j < leaving; j++) tracked[left[j]] = 0;
    for (int64_t j = 0; j < entering; j++) tracked[entered[j]] = 1;
    result[0] = entering;
    result[1] = count;
    result[2] = (int64_t)(kth >> 32);
    return 0;
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
"""

# no -ffast-math: IEEE semantics (NaN checks, exact subtraction) are what makes it bit-equal;
# -march=native lets the score and reset loops use the machine's vector width (the cached
# library's name carries the CPU's flags, so another machine builds its own)
_FLAGS = ("-O3", "-march=native", "-shared", "-fPIC", "-fno-fast-math", "-ffp-contract=off")
_cached: list = []  # [library or None], once per process
NEED_FULL_RANKING, NEED_CAPACITY = 1, 2  # select_top_k's return codes besides 0


def _cache_dir() -> Path:
    root = os.environ.get("ACCELSIM_CACHE") or Path.home() / ".cache" / "accelsim"
    return Path(root) / "fused"


def _cpu_token() -> str:
    try:
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("flags")), "")
    except OSError:
        flags = ""
    return platform.machine() + flags


def _compile(target: Path) -> bool:
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        source = Path(work) / "fused.c"
        source.write_text(_SOURCE)
        built = Path(work) / target.name
        result = subprocess.run([compiler, *_FLAGS, "-o", str(built), str(source), "-lm"],
                                capture_output=True, timeout=120, check=False)
        if result.returncode != 0:
            return False
        os.replace(built, target)  # atomic: a concurrent process sees all of it or none
    return True


def library():
    """The compiled loops (ctypes.CDLL), or None where they cannot be built."""
    if _cached:
        return _cached[0]
    lib = None
    digest = hashlib.sha256("|".join([_SOURCE, *_FLAGS, _cpu_token()]).encode()).hexdigest()
    target = _cache_dir() / f"dropback-fused-{digest[:16]}.so"
    try:
        if target.exists() or _compile(target):
            lib = ctypes.CDLL(str(target))
            _declare(lib)
    except (OSError, subprocess.SubprocessError):
        lib = None
    _cached.append(lib)
    return lib


def _declare(lib) -> None:
    pointer, size = ctypes.c_void_p, ctypes.c_int64
    lib.select_top_k.argtypes = [pointer, pointer, pointer, size, pointer, size, ctypes.c_float,
                                 pointer, pointer, size, ctypes.c_float, pointer, pointer, size,
                                 pointer, pointer, pointer, pointer]
    lib.select_top_k.restype = ctypes.c_int
    lib.reset_untracked.argtypes = [pointer, pointer, pointer, size, pointer, size]
    lib.reset_untracked.restype = None


class FusedSelection:
    """Scratch buffers of the fused selection, kept between steps (one per DropBack)."""

    def __init__(self, lib, count: int):
        import torch

        self.lib = lib
        self.index = torch.empty(count, dtype=torch.int64)
        self.entered = torch.empty(count, dtype=torch.int64)
        self.left = torch.empty(count, dtype=torch.int64)
        self.result = torch.zeros(3, dtype=torch.int64)
        self._grow(2 * count + 1024)

    def _grow(self, capacity: int):
        import torch

        self.capacity = int(capacity)
        self.keys = torch.empty(self.capacity, dtype=torch.int64)
        self.work = torch.empty(self.capacity, dtype=torch.int64)

    def select(self, flat, initial, tracked, previous, guess: float, scan, block_max,
               block: int, hidden: float):
        """(index, entered, left, k-th score), new tensors; or None if a previous score is
        NaN. Updates `tracked` to the new set. Tensors: contiguous, CPU; flat float32."""
        count = previous.numel()
        while True:
            code = self.lib.select_top_k(
                flat.data_ptr(), initial.data_ptr(), tracked.data_ptr(), flat.numel(),
                previous.data_ptr(), count, guess, scan.data_ptr(), block_max.data_ptr(),
                block, hidden, self.keys.data_ptr(), self.work.data_ptr(), self.capacity,
                self.index.data_ptr(), self.entered.data_ptr(), self.left.data_ptr(),
                self.result.data_ptr())
            if code != NEED_CAPACITY:
                break
            self._grow(int(self.result[1]) * 5 // 4 + 1024)
        if code == NEED_FULL_RANKING:
            return None
        entering, _, kth_bits = self.result.tolist()
        kth_score = struct.unpack("<f", struct.pack("<I", kth_bits))[0]
        return (self.index.clone(), self.entered[:entering].clone(),
                self.left[:entering].clone(), kth_score)


def reset_untracked(lib, flat, initial, tracked, states) -> None:
    """w <- w0 and every state buffer <- 0 where `tracked` is False."""
    addresses = (ctypes.c_void_p * max(1, len(states)))(*[s.data_ptr() for s in states])
    lib.reset_untracked(flat.data_ptr(), initial.data_ptr(), tracked.data_ptr(), flat.numel(),
                        addresses, len(states))
