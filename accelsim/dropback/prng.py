"""Counter-based PRNG: (seed, layer_id, index) -> 32 random bits, for any index in any order.

DropBack never stores the initial value w0 of an untracked weight: it regenerates it at each
access. A sequential generator (xorshift, Mersenne twister) cannot do that; a counter-based one,
a pure function of the element's address, can. This module is that function, written twice
(numpy and torch) so that both give the same bits, and small enough for a hardware unit.

The function (all arithmetic on unsigned 32-bit words, mod 2**32)
-----------------------------------------------------------------

Per layer, once (a register per layer in hardware, not counted per value)::

    seed_lo, seed_hi = seed & 0xFFFFFFFF, seed >> 32          # 0 <= seed < 2**64
    s     = mix32(mix32(seed_lo ^ 0x243F6A88) ^ seed_hi)       # fold the seed
    key_0 = mix32(s ^ mix32(layer_id + 0x9E3779B9))            # key of this (seed, layer)
    key_1 = mix32(key_0 + 0x85A308D3)                          # second, independent key

    mix32(x) = x ^= x >> 16;  x *= 0x7FEB352D;
               x ^= x >> 15;  x *= 0x846CA68B;  x ^= x >> 16

Per value (index = element number j inside the layer, 0 <= j < 2**32)::

    x  = index ^ key_0                    # 1 xor
    x ^= x >> 16;  x *= 0x7FEB352D        # round 1: shift, xor, multiply
    x ^= x >> 15;  x *= 0x846CA68B        # round 2: shift, xor, multiply
    x += key_1                            # 1 add: second key, after a full avalanche
    x ^= x >> 16;  x *= 0x7FEB352D        # round 3
    x ^= x >> 15;  x *= 0x846CA68B        # round 4
    x ^= x >> 16                          # output whitening: shift, xor
    return x

That is ``INT_OPS_PER_VALUE = 16`` 32-bit integer operations per value: 6 xor, 5 shift,
4 multiply, 1 add (``INT_OPS_BREAKDOWN``). Shifts by a constant are wiring in hardware, but
they are counted so that a software or SIMD cost model is not understated.

Why this shape: the xorshift-multiply round is the usual integer avalanche step; the two
multiplier constants are the ones Chris Wellons' *hash-prospector* search (public domain)
reported for its "lowbias32" 32-bit mixer. One keyed pass of such a bijection would make the
streams of two layers *shifted copies* of each other (x = index + key); injecting the second
key between two passes breaks that relation, so streams of different layers and seeds are
unrelated, not offset.

From bits to an initial weight in [-bound, bound)
-------------------------------------------------

::

    m  = bits >> 8                        # 24 random bits, 0 <= m < 2**24
    w0 = float32(m - 2**23) * float32(bound * 2**-23)

``float32(m - 2**23)`` is exact (|m - 2**23| <= 2**23) and ``bound * 2**-23`` is exact (a power
of two scaling of the float32 bound), so the single float32 multiply is the only rounding: numpy,
torch (CPU or GPU) and an IEEE float unit all give the same float32 bits. Since
(m - 2**23) * 2**-23 lies in [-1, 1 - 2**-23], the result lies in [-bound, bound): -bound is
reached, +bound is not. Cost beyond the bits: 1 shift, 1 integer subtract, 1 int-to-float
conversion, 1 float multiply (``FLOAT_OPS_PER_UNIFORM``).

Everything here imports numpy only; torch is imported inside the torch functions, so the
simulator (which never imports torch) can use the numpy half.
"""

from __future__ import annotations

import numpy as np

GENERATOR_ID = "accelsim-xmx32-keyed2"
GENERATOR_VERSION = 1

INT_OPS_BREAKDOWN = {"xor": 6, "shift": 5, "multiply": 4, "add": 1}
INT_OPS_PER_VALUE = sum(INT_OPS_BREAKDOWN.values())  # 16
# int->float needs: shift (>> 8), integer subtract, convert, float multiply
FLOAT_OPS_PER_UNIFORM = {"shift": 1, "int_subtract": 1, "int_to_float": 1, "float_multiply": 1}

MASK32 = 0xFFFFFFFF
MULTIPLIER_A = 0x7FEB352D
MULTIPLIER_B = 0x846CA68B
SEED_SALT = 0x243F6A88  # first fraction digits of pi: any fixed odd-looking constant
LAYER_SALT = 0x9E3779B9  # 2**32 / golden ratio: spreads consecutive layer ids
KEY_1_SALT = 0x85A308D3

MANTISSA_BITS = 24  # random bits that enter the float
_HALF_RANGE = 1 << (MANTISSA_BITS - 1)  # 2**23


# ---------------------------------------------------------------- per-layer keys (host side)
def _mix32_int(x: int) -> int:
    """The mixer on one Python int (used for key derivation, once per layer)."""
    x &= MASK32
    x ^= x >> 16
    x = (x * MULTIPLIER_A) & MASK32
    x ^= x >> 15
    x = (x * MULTIPLIER_B) & MASK32
    x ^= x >> 16
    return x


def _check_seed_and_layer(seed: int, layer_id: int) -> None:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    if not isinstance(layer_id, (int, np.integer)) or isinstance(layer_id, bool):
        raise TypeError(f"layer_id must be an int, got {type(layer_id).__name__}")
    if not 0 <= int(layer_id) < 2**32:
        raise ValueError(f"layer_id must be in [0, 2**32), got {layer_id}")


def layer_keys(seed: int, layer_id: int) -> tuple[int, int]:
    """(key_0, key_1) of one (seed, layer) stream; see the module docstring."""
    _check_seed_and_layer(seed, layer_id)
    seed, layer_id = int(seed), int(layer_id)
    folded_seed = _mix32_int(_mix32_int((seed & MASK32) ^ SEED_SALT) ^ (seed >> 32))
    key_0 = _mix32_int(folded_seed ^ _mix32_int(layer_id + LAYER_SALT))
    key_1 = _mix32_int(key_0 + KEY_1_SALT)
    return key_0, key_1


def uniform_scale(bound: float) -> float:
    """bound * 2**-23 after rounding bound to float32 (exact: a power-of-two scaling)."""
    bound32 = np.float32(bound)
    if not np.isfinite(bound32) or bound32 < 0:
        raise ValueError(f"bound must be finite and >= 0, got {bound}")
    return float(bound32) * 2.0 ** -(MANTISSA_BITS - 1)


# ---------------------------------------------------------------- numpy
def bits_numpy(seed: int, layer_id: int, index) -> np.ndarray:
    """32 random bits (uint32) for each element number in `index` of layer `layer_id`."""
    key_0, key_1 = layer_keys(seed, layer_id)
    index = np.asarray(index)
    if index.dtype.kind not in "iu":
        raise TypeError(f"index must be an integer array, got dtype {index.dtype}")
    if index.size and (index.min() < 0 or index.max() > MASK32):
        raise ValueError("index values must be in [0, 2**32)")
    x = index.astype(np.uint32) ^ np.uint32(key_0)
    x = _round_pair_numpy(x)
    x += np.uint32(key_1)  # uint32 array arithmetic wraps mod 2**32, silently and by definition
    x = _round_pair_numpy(x)
    x ^= x >> np.uint32(16)
    return x


def _round_pair_numpy(x: np.ndarray) -> np.ndarray:
    x ^= x >> np.uint32(16)
    x *= np.uint32(MULTIPLIER_A)
    x ^= x >> np.uint32(15)
    x *= np.uint32(MULTIPLIER_B)
    return x


def uniform_numpy(seed: int, layer_id: int, index, bound: float) -> np.ndarray:
    """float32 values uniform in [-bound, bound), bit-identical to `uniform_torch`."""
    bits = bits_numpy(seed, layer_id, index)
    centered = (bits >> np.uint32(8)).astype(np.int32) - np.int32(_HALF_RANGE)
    return centered.astype(np.float32) * np.float32(uniform_scale(bound))


# ---------------------------------------------------------------- torch
def _mul32_torch_(x, multiplier: int):
    """x <- (x * multiplier) mod 2**32, in place, for int64 x in [0, 2**32): exact, no overflow.

    A direct int64 product of two 32-bit values can exceed 2**63 (signed overflow, undefined in
    the C++ kernels). Splitting the constant into 16-bit halves keeps every product < 2**48."""
    low, high = multiplier & 0xFFFF, multiplier >> 16
    high_part = (x * high).bitwise_and_(0xFFFF).bitwise_left_shift_(16)
    return x.mul_(low).add_(high_part).bitwise_and_(MASK32)


def _round_pair_torch_(x):
    """Two xorshift-multiply rounds, in place."""
    x.bitwise_xor_(x >> 16)
    _mul32_torch_(x, MULTIPLIER_A)
    x.bitwise_xor_(x >> 15)
    return _mul32_torch_(x, MULTIPLIER_B)


def bits_torch(seed: int, layer_id: int, index):
    """32 random bits for each element number in `index`, as int64 values in [0, 2**32).

    Runs on `index`'s device; same bits as `bits_numpy`."""
    import torch

    key_0, key_1 = layer_keys(seed, layer_id)
    if index.dtype.is_floating_point or index.dtype.is_complex or index.dtype == torch.bool:
        raise TypeError(f"index must be an integer tensor, got dtype {index.dtype}")
    if index.numel() and (int(index.min()) < 0 or int(index.max()) > MASK32):
        raise ValueError("index values must be in [0, 2**32)")
    x = index.to(torch.int64).bitwise_xor(key_0)  # a new tensor: the rest works in place
    _round_pair_torch_(x)
    x.add_(key_1).bitwise_and_(MASK32)
    _round_pair_torch_(x)
    return x.bitwise_xor_(x >> 16)


def uniform_torch(seed: int, layer_id: int, index, bound: float):
    """float32 values uniform in [-bound, bound) on `index`'s device; same bits as numpy."""
    import torch

    bits = bits_torch(seed, layer_id, index)
    centered = (bits >> 8).sub_(_HALF_RANGE).to(torch.float32)
    # a float32 0-dim tensor, so the multiply is float32 x float32 on every backend
    scale = torch.tensor(uniform_scale(bound), dtype=torch.float32, device=centered.device)
    return centered.mul_(scale)
