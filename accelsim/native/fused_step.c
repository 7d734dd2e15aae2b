/* The DropBack post-step on the CPU in one function (accelsim/dropback/fused.py calls it through
 * ctypes; what it does is in that module's docstring). BLOCK, the elements per block maximum,
 * is defined here only: Python reads it with fused_block(). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#ifndef ACCELSIM_BUILD_DIGEST
#define ACCELSIM_BUILD_DIGEST "unknown"
#endif

const char *fused_build_digest(void) { return ACCELSIM_BUILD_DIGEST; }

enum { BLOCK = 64 };
int64_t fused_block(void) { return BLOCK; }

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
