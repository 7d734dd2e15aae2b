"""The accelerator as a SimPy machine: the parts, and the pipeline that replays a phase's tiles.

The parts are SimPy servers (`accelsim.sim.parts`): weight SRAM and activation SRAM banks, the
DRAM channels (the command-level controller behind `DramPort`), the PRNG regeneration unit, and
two compute units, the PE array and the update unit. A phase of a layer is a pipeline of three SimPy
processes over its tiles (`accelsim.sim.mapping.PhaseTiles`), with bounded buffers between them
(`buffer_depth_tiles` slots, 2 = double buffering):

    fetch ──(input buffers)──► compute ──(output buffers)──► write-back

- fetch, for tile i: waits for a free input buffer, then moves the tile's read `Traffic` (all at
  once: the weight SRAM for the pinned tracked values and index, the activation SRAM for on-chip
  activations, the DRAM for the streamed tracked values, index and spilled activations) and asks
  the PRNG for the regenerated weights (and, in the update, the optimizer state: in the weight
  SRAM where it is pinned, in its own DRAM region where it streams). The tile is ready when
  the slowest part is done; parts serve requests in order, so a part may already serve tile
  i+1 while another still serves tile i.
- compute: takes ready tiles in order and holds the PE array (or the update unit, in the update
  phase) for the tile's compute cycles; then frees the input buffer.
- write-back: moves the tile's write `Traffic` (activations, updated weights) to SRAM or DRAM
  by the same routine as fetch, then frees the output buffer.

Memory stalls and overlap come out of this: a tile whose fetch takes longer than the previous
tile's compute stalls the array. Phases run one after the other (a barrier between phases), so
each (layer, phase) has its own span of cycles and the spans add up to the whole run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from accelsim.config import AcceleratorConfig
from accelsim.sim.dram.port import DramPort
from accelsim.sim.mapping.layer import LayerWork
from accelsim.sim.mapping.placement import optimizer_state_bits
from accelsim.sim.mapping.tiles import PhaseTiles, Traffic
from accelsim.sim.parts.compute import ComputeUnit
from accelsim.sim.parts.environment import Environment
from accelsim.sim.parts.prng_unit import PrngUnit
from accelsim.sim.parts.server import RequestQueue, Slots, all_done
from accelsim.sim.parts.sram import SramBanks
from accelsim.sim.parts.vector import VectorLayerWork


@dataclass
class _Cursor:
    """Where one way's next tile goes: SRAM words of each stream, DRAM bytes of each region."""

    weight_value_word: int
    weight_index_word: int
    activation_word: int = 0
    weight_dram_byte: int = 0
    activation_dram_byte: int = 0
    state_word: int = 0
    state_dram_byte: int = 0


class Accelerator:
    """One accelerator's parts on one SimPy environment, and the tile pipeline of a phase."""

    def __init__(self, config: AcceleratorConfig, works: Sequence[LayerWork | VectorLayerWork],
                 record_dram_requests: bool = False, dram_cache: dict | None = None):
        self.config = config
        env = self.env = Environment()
        self.weight_sram = SramBanks(env, config.weight_sram, "weight_sram")
        self.activation_sram = SramBanks(env, config.activation_sram, "activation_sram")
        self.dram = DramPort(env, config.dram, config.clock_mhz, config.dram_timing,
                             config.dram_sample_bursts, record_dram_requests, cache=dram_cache)
        self.prng = PrngUnit(env, config.prng)
        self.pe_array = ComputeUnit(env, "pe_array")
        self.update_unit = ComputeUnit(env, "update_unit")
        self._layout(works)

    def _layout(self, works: Sequence[LayerWork | VectorLayerWork]):
        """DRAM regions: each layer's weights (values + index, row-aligned), then its
        activations; SRAM streams start at bank 0 (values) and half-way round (index)."""
        c = self.config
        row = c.dram.row_size_bytes
        self.weight_base, self.activation_base = {}, {}
        cursor = 0
        for w in works:
            self.weight_base[w.layer_id] = cursor
            # room for every weight tracked, whatever the set
            bits = w.param_count * c.weight_bits + c.index.bits_for(w.param_count, w.param_count)
            size = -(-bits // 8)
            cursor += -(-size // row) * row
        for w in works:
            self.activation_base[w.layer_id] = cursor
            size = max((r + wr + dr + dw for r, wr, dr, dw in w.activation_bytes.values()),
                       default=0)
            cursor += max(1, -(-size // row)) * row
        # optimizer state last: room for every weight's state
        self.state_base = {}
        state_bits = optimizer_state_bits(c)
        for w in works:
            self.state_base[w.layer_id] = cursor
            size = -(-w.param_count * w.optimizer_state_words * state_bits // 8)
            cursor += -(-size // row) * row
        self.index_first_word = c.weight_sram.banks // 2
        # the state's SRAM stream starts a quarter of the way round (values at 0, index at 1/2)
        self.state_first_word = c.weight_sram.banks // 4

    # -- one phase ---------------------------------------------------------------------------
    def _join(self, events):
        return all_done(self.env, [e for e in events if e is not None])

    def _move(self, traffic: Traffic, i: int, at: _Cursor, weight_base: int,
              activation_base: int, state_base: int, is_write: bool) -> list:
        """Submit tile i's traffic one way to the SRAMs and the DRAM, all at once; advance the
        cursor. The parts' events, in the order submitted (SimPy breaks ties by it)."""
        events = []
        values, index = traffic.weight_sram_value_words[i], traffic.weight_sram_index_words[i]
        state = traffic.state_sram_words[i]
        if values or index or state:
            streams: tuple[tuple[int, int], ...] = ((at.weight_value_word, values),
                                                    (at.weight_index_word, index))
            if state:
                streams += ((at.state_word, state),)
            events.append(self.weight_sram.submit(streams))
            at.weight_value_word += values
            at.weight_index_word += index
            at.state_word += state
        words = traffic.activation_sram_words[i]
        if words:
            events.append(self.activation_sram.submit(((at.activation_word, words),)))
            at.activation_word += words
        weight_bytes, activation_bytes = (traffic.weight_dram_bytes[i],
                                          traffic.activation_dram_bytes[i])
        if weight_bytes or activation_bytes:
            events.append(self.dram.submit((
                (weight_base + at.weight_dram_byte, weight_bytes, is_write),
                (activation_base + at.activation_dram_byte, activation_bytes, is_write))))
            at.weight_dram_byte += weight_bytes
            at.activation_dram_byte += activation_bytes
        state_bytes = traffic.state_dram_bytes[i]
        if state_bytes:
            events.append(self.dram.submit(
                ((state_base + at.state_dram_byte, state_bytes, is_write),)))
            at.state_dram_byte += state_bytes
        return events

    def _phase(self, t: PhaseTiles):
        env, depth = self.env, self.config.buffer_depth_tiles
        n = t.n_tiles
        in_slots, out_slots = Slots(env, depth), Slots(env, depth)
        fetched, computed = RequestQueue(env), RequestQueue(env)
        weight_base = self.weight_base[t.layer_id]
        activation_read_base = self.activation_base[t.layer_id]
        # written activations go after the read ones in the layer's region
        activation_write_base = activation_read_base + sum(t.read.activation_dram_bytes)
        unit = self.update_unit if t.on_update_unit else self.pe_array

        state_base = self.state_base[t.layer_id]

        def fetch():
            at = _Cursor(0, self.index_first_word, state_word=self.state_first_word)
            for i in range(n):
                yield in_slots.get()
                events = self._move(t.read, i, at, weight_base, activation_read_base,
                                    state_base, False)
                if t.prng_values[i]:
                    events.append(self.prng.submit(t.prng_values[i]))
                yield fetched.put_event(self._join(events))

        def compute():
            for i in range(n):
                ready = yield fetched.get()
                if ready is not None:
                    yield ready
                yield out_slots.get()
                cycles = t.compute_cycles[i]
                if cycles:
                    yield unit.submit(cycles)
                yield in_slots.put()
                yield computed.put_event(i)

        def write_back():
            at = _Cursor(0, self.index_first_word, state_word=self.state_first_word)
            for _ in range(n):
                i = yield computed.get()
                done = self._join(self._move(t.write, i, at, weight_base, activation_write_base,
                                             state_base, True))
                if done is not None:
                    yield done
                yield out_slots.put()

        env.process(fetch())
        env.process(compute())
        yield env.process(write_back())

    # -- a sequence of phases ----------------------------------------------------------------
    def run(self, phases: list[PhaseTiles]) -> list[dict]:
        """Run phases one after the other; per phase: its cycles and DRAM figures."""
        out = []

        def main():
            for tiles in phases:
                start, before = self.env.now, self.dram.snapshot()
                yield self.env.process(self._phase(tiles))
                after = self.dram.snapshot()
                out.append({"total_cycles": int(self.env.now - start),
                            "dram": {k: after[k] - before[k] for k in after}})

        self.env.process(main())
        self.env.run()
        return out
