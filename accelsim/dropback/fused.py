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
path, which `tests/dropback/test_dropback_fused.py` checks step by step over many steps and against
a full sort. The C source is accelsim/native/fused_step.c, built at install (or at first use in
a source tree) by `accelsim.native`; where it cannot be built `library()` returns None (and
`build_error()` says why) and DropBack keeps the torch path, which gives the same bits.
"""

from __future__ import annotations

import ctypes
import struct

from accelsim import native

_cached: list = []  # [library or None], once per process
_errors: list[str] = []
BLOCK = 64  # elements per block maximum: fused_step.c's BLOCK, checked at load
NEED_FULL_RANKING = 1  # select_and_reset: a NaN among the previous scores


def library():
    """The compiled loops (ctypes.CDLL), or None where they cannot be built."""
    if _cached:
        return _cached[0]
    try:
        lib = native.load("fused_step")
    except native.NativeError as exc:
        _errors.append(str(exc))
        lib = None
    if lib is not None:
        _declare(lib)
    _cached.append(lib)
    return lib


def build_error() -> str | None:
    """Why `library()` is None (the builder's one-line message), or None."""
    library()
    return _errors[0] if _errors else None


def _declare(lib) -> None:
    pointer, size = ctypes.c_void_p, ctypes.c_int64
    lib.select_and_reset.argtypes = [pointer, pointer, pointer, size, pointer, size,
                                     ctypes.c_float, pointer, size, pointer, pointer, pointer,
                                     pointer, pointer, pointer]
    lib.select_and_reset.restype = ctypes.c_int
    lib.reset_untracked.argtypes = [pointer, pointer, pointer, size, pointer, size]
    lib.reset_untracked.restype = None
    lib.fused_block.restype = ctypes.c_int64
    if lib.fused_block() != BLOCK:
        raise native.NativeError(f"fused_step.c has BLOCK = {lib.fused_block()}, "
                                 f"accelsim/dropback/fused.py {BLOCK}: make them agree")


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
