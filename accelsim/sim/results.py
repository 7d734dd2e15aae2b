"""Simulation results: one record per (run, layer, phase), as a pandas DataFrame.

`run` is ``"trace"`` (the trace as given) or ``"dense"`` (its dense baseline); `phase` is one of
``load`` (the one-time load of the pinned tracked set into the weight SRAM), ``forward``,
``backward_data``, ``backward_weight``, ``update``. A record sums every simulated iteration it
stands for (``iterations_count``); the load happens once.

The columns are owned here: the keys, the counts (the fields of `Counts`, in column order) and
the energy columns (the components of `accelsim.sim.energy.ENERGY_TABLE`). Units are in the
column names: ``*_cycles`` (accelerator clock cycles), ``*_bytes*``, ``*_count`` (events or
elements), ``*_energy_pj``. Every result carries the resolved accelerator config (as a dict)
and the identity of the trace(s) that produced it.

Checks that always hold (`SimulationResult.check` verifies them):
- every weight access is served by exactly one of SRAM, DRAM or PRNG:
  ``weight_accesses_count = served_sram_count + served_dram_count + served_prng_count``;
- ``energy_pj`` is the sum of the component columns (`accelsim.sim.energy.ENERGY_COMPONENTS`);
- ``total_cycles = compute_cycles + stall_cycles``, ``stall_cycles >= 0``;
- totals are sums over layers and phases (they are computed that way, from the records).

A second table, the traffic breakdown (`traffic_table`, ``traffic.parquet``), has one row per
(run, layer, phase, operand, level): the operand's ``reads`` and ``writes`` at that level (in
the level's access: DRAM bytes, SRAM bank-width accesses, PRNG values, words entering the PE
array (reads) and passed from PE to PE (writes), staging-buffer words), the ``bytes`` they
move and their ``energy_pj``. Operands: `OPERANDS` (``optimizer_state``: the update's state
words, in the weight SRAM and DRAM); levels: `LEVELS`. It conserves the records: per record,
its DRAM bytes are the record's, its SRAM accesses the record's, and its energy sums to the
record's traffic energy
(`accelsim.sim.energy.TRAFFIC_ENERGY_COLUMNS`: DRAM dynamic, SRAM dynamic, PRNG, PE movement;
DRAM background, SRAM leakage, MACs and the update unit are time or compute, not traffic).
DRAM dynamic energy is charged by the DRAM model per burst and row state; the breakdown shares
it out in proportion to bytes. Activation-side traffic is split by the phase's GEMM mapping
(`accelsim.sim.mapping.layer.activation_operands`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd

from accelsim.config.accelerator import AcceleratorConfig
from accelsim.errors import AccelsimError
from accelsim.io import atomic_path, write_json_atomic
from accelsim.sim.area import area_breakdown_mm2
from accelsim.sim.energy import (
    ENERGY_COMPONENTS,
    TRAFFIC_ENERGY_COLUMNS,
    level_access_energy_pj,
)
from accelsim.sim.mapping.apportion import split_proportional
from accelsim.sim.mapping.gemm import OPERAND_ROLES

RUNS = ("trace", "dense")
KEY_COLUMNS = ("run", "layer_id", "layer_name", "phase")


@dataclass(frozen=True)
class Counts:
    """The count columns of one record, in column order: the one list of them. Every field is
    required, so a count nobody filled in is an error, never a silent zero. The mapping
    (`accelsim.sim.mapping.tiles`) counts the work and the traffic; the machine measures the cycles
    and the DRAM model's figures (`accelsim.sim.simulation`)."""

    iterations_count: int
    total_cycles: int
    compute_cycles: int
    stall_cycles: int
    # who served each weight access of the phase
    weight_accesses_count: int
    served_sram_count: int
    served_dram_count: int
    served_prng_count: int
    # the trace's logical counts for the phase, summed over iterations
    tracked_count: int
    regenerated_count: int
    entered_count: int
    left_count: int
    # off-chip traffic
    dram_bytes_read: int
    dram_bytes_written: int
    weight_dram_bytes_read: int
    weight_dram_bytes_written: int
    activation_dram_bytes_read: int
    activation_dram_bytes_written: int
    optimizer_state_dram_bytes_read: int
    optimizer_state_dram_bytes_written: int
    dram_bursts_count: int
    dram_row_hits_count: int
    dram_row_misses_count: int
    dram_row_conflicts_count: int
    dram_activates_count: int
    dram_refreshes_count: int
    # on-chip traffic, in bank-width accesses
    weight_sram_reads_count: int
    weight_sram_writes_count: int
    activation_sram_reads_count: int
    activation_sram_writes_count: int
    sram_reads_count: int
    sram_writes_count: int
    # of the weight SRAM's accesses, those of optimizer state (the update only)
    optimizer_state_sram_reads_count: int
    optimizer_state_sram_writes_count: int
    prng_values_count: int
    macs_count: int
    pe_weight_loads_count: int  # weights entering the PE array (registers)
    # words passed from PE to PE, one hop per MAC for each moving GEMM operand
    # (`accelsim.sim.mapping.folds.array_hops`): A (inputs, along the rows), B (weights; dY in
    # backward_weight) and C (partial sums, down the columns)
    pe_input_hops_count: int
    pe_weight_hops_count: int
    pe_partial_sum_hops_count: int
    staging_accesses_count: int  # words written into and read out of the staging buffer
    update_alu_weights_count: int
    topk_compares_count: int
    # the update ALU's work on optimizer state (`placement.OptimizerRule`): add-class and
    # multiply-class operations (divide and square root counted as multiplies)
    optimizer_add_ops_count: int
    optimizer_mult_ops_count: int
    # the vector unit (the layers between the GEMMs, `accelsim.sim.parts.vector`)
    vector_add_ops_count: int
    vector_mult_ops_count: int

    def as_columns(self) -> dict:
        """Column name -> count, in column order."""
        return dict(vars(self))


COUNT_COLUMNS = tuple(f.name for f in fields(Counts))

ENERGY_COLUMNS = ("dram_dynamic_energy_pj", "dram_background_energy_pj") + ENERGY_COMPONENTS + (
    "energy_pj",)
COLUMNS = KEY_COLUMNS + COUNT_COLUMNS + ENERGY_COLUMNS

# what the dense-vs-trace comparison puts side by side
COMPARED = (
    "dram_bytes", "weight_dram_bytes", "dram_bytes_read", "energy_pj", *ENERGY_COMPONENTS,
    "total_cycles", "prng_values_count",
)


# stash: what backward needs of the vector layers' forward (BN input and statistics, ReLU mask
# bits, max-pool argmax); batchnorm_state: BatchNorm's scale, shift and running statistics
OPERANDS = ("weights", "activations", "gradients", "partial_sums", "optimizer_state", "stash",
            "batchnorm_state")
LEVELS = ("dram", "weight_sram", "activation_sram", "staging", "pe_array", "prng")
TRAFFIC_COLUMNS = ("run", "layer_id", "layer_name", "phase", "operand", "level", "reads",
                   "writes", "bytes", "energy_pj")


def _shares(total: int, basis: dict) -> dict:
    """`total` split over basis' keys in proportion to its values (largest remainder, exact);
    with no basis, all to activations."""
    keys = list(basis)
    weights = np.array([max(0, int(basis[k])) for k in keys], dtype=np.int64)
    if not keys or weights.sum() == 0:
        return {"activations": int(total)} if total else {}
    return {k: int(v) for k, v in zip(keys, split_proportional(total, weights))}


def traffic_table(records: pd.DataFrame, operand_bytes: dict,
                  config: AcceleratorConfig) -> pd.DataFrame:
    """The traffic breakdown of `records` (see the module docstring). operand_bytes:
    (layer_id, phase) -> role -> (sram_read, sram_write, dram_read, dram_write) bytes of one
    iteration (`LayerWork.activation_operand_bytes`), the basis on which each record's
    activation-side counts are shared out. Rows with no traffic are left out."""
    w_bytes = config.weight_sram.bank_width_bits / 8
    a_bytes = config.activation_sram.bank_width_bits / 8
    word_bytes = config.weight_bytes
    energy = {level: level_access_energy_pj(level, config)
              for level in ("weight_sram", "activation_sram", "prng", "pe_array", "staging")}
    rows = []
    for r in records.itertuples(index=False):
        key = (r.run, int(r.layer_id), r.layer_name, r.phase)
        basis = operand_bytes.get((int(r.layer_id), r.phase), {})
        # (operand, level) -> (reads, writes, bytes)
        moved = {("weights", "dram"): (int(r.weight_dram_bytes_read),
                                       int(r.weight_dram_bytes_written))}
        dram_read = _shares(r.activation_dram_bytes_read, {k: v[2] for k, v in basis.items()})
        dram_write = _shares(r.activation_dram_bytes_written,
                             {k: v[3] for k, v in basis.items()})
        sram_read = _shares(r.activation_sram_reads_count, {k: v[0] for k, v in basis.items()})
        sram_write = _shares(r.activation_sram_writes_count,
                             {k: v[1] for k, v in basis.items()})
        # the activation-side roles (the optimizer state has counts of its own, below)
        for role in (o for o in OPERANDS[1:] if o != "optimizer_state"):
            moved[(role, "dram")] = (dram_read.get(role, 0), dram_write.get(role, 0))
            moved[(role, "activation_sram")] = (sram_read.get(role, 0), sram_write.get(role, 0))
        state_reads = int(r.optimizer_state_sram_reads_count)
        state_writes = int(r.optimizer_state_sram_writes_count)
        moved[("weights", "weight_sram")] = (int(r.weight_sram_reads_count) - state_reads,
                                             int(r.weight_sram_writes_count) - state_writes)
        moved[("optimizer_state", "weight_sram")] = (state_reads, state_writes)
        moved[("optimizer_state", "dram")] = (int(r.optimizer_state_dram_bytes_read),
                                              int(r.optimizer_state_dram_bytes_written))
        moved[("weights", "staging")] = (int(r.staging_accesses_count), 0)
        # words entering the array and hopping in it, by the operand each GEMM operand is
        moved[("weights", "pe_array")] = (int(r.pe_weight_loads_count), 0)
        roles = OPERAND_ROLES.get(r.phase)
        if roles is not None:
            for name, hops in (("A", r.pe_input_hops_count), ("B", r.pe_weight_hops_count),
                               ("C", r.pe_partial_sum_hops_count)):
                role = "partial_sums" if name == "C" else roles[name]
                # reads: words entering the array; writes: hops (pipeline-register writes)
                entering, before = moved.get((role, "pe_array"), (0, 0))
                moved[(role, "pe_array")] = (entering, before + int(hops))
        moved[("weights", "prng")] = (int(r.prng_values_count), 0)
        dram_total = int(r.dram_bytes_read) + int(r.dram_bytes_written)
        if not dram_total and r.dram_dynamic_energy_pj:
            # DRAM energy charged with no bytes moved (none is expected): kept, so the
            # breakdown still sums to the records, on the weights' DRAM row
            rows.append((*key, "weights", "dram", 0, 0, 0, float(r.dram_dynamic_energy_pj)))
        for (operand, level), (reads, writes) in moved.items():
            if not reads and not writes:
                continue
            size: float
            if level == "dram":
                size = reads + writes
                pj = float(r.dram_dynamic_energy_pj) * size / dram_total
            else:
                per = {"weight_sram": w_bytes, "activation_sram": a_bytes,
                       "prng": word_bytes, "pe_array": word_bytes, "staging": word_bytes}[level]
                size = (reads + writes) * per
                e_read, e_write = energy[level]
                pj = reads * e_read + writes * e_write
            rows.append((*key, operand, level, reads, writes, int(size), float(pj)))
    frame = pd.DataFrame(rows, columns=list(TRAFFIC_COLUMNS))
    return frame.astype({"layer_id": "int64", "reads": "int64", "writes": "int64",
                         "bytes": "int64", "energy_pj": "float64"})


def vector_records(records: pd.DataFrame) -> pd.Series:
    """Which records are the vector unit's (the layers between the GEMMs): those with its
    operations (a flatten, which moves nothing, has no record)."""
    return (records["vector_add_ops_count"] + records["vector_mult_ops_count"]) > 0


def _sum_numeric(frame: pd.DataFrame) -> pd.Series:
    return frame[list(COUNT_COLUMNS) + list(ENERGY_COLUMNS)].sum()


@dataclass
class SimulationResult:
    records: pd.DataFrame
    config: dict
    trace_identity: dict
    settings: dict = field(default_factory=dict)
    baseline_identity: dict | None = None
    dram_requests: dict | None = None  # run -> the DRAM model's request log, when recorded
    traffic: pd.DataFrame | None = None  # the traffic breakdown (`traffic_table`)
    mappings: pd.DataFrame | None = None  # what the mapper chose per layer and phase

    # -- views --------------------------------------------------------------------------------
    @property
    def runs(self) -> list[str]:
        return [r for r in RUNS if (self.records["run"] == r).any()]

    def run(self, name: str = "trace") -> pd.DataFrame:
        return self.records[self.records["run"] == name].reset_index(drop=True)

    def totals(self) -> pd.DataFrame:
        """One row per run: every count and energy summed over layers and phases."""
        rows = {run: _sum_numeric(self.run(run)) for run in self.runs}
        out = pd.DataFrame(rows).T
        out.index.name = "run"
        out["dram_bytes"] = out["dram_bytes_read"] + out["dram_bytes_written"]
        out["weight_dram_bytes"] = out["weight_dram_bytes_read"] + out["weight_dram_bytes_written"]
        return out

    def by_phase(self) -> pd.DataFrame:
        cols = list(COUNT_COLUMNS) + list(ENERGY_COLUMNS)
        frame = self.records.groupby(["run", "phase"], sort=False)[cols].sum()
        return frame

    def by_layer(self) -> pd.DataFrame:
        cols = list(COUNT_COLUMNS) + list(ENERGY_COLUMNS)
        return self.records.groupby(["run", "layer_id", "layer_name"], sort=False)[cols].sum()

    def traffic_totals(self, by=("run", "operand", "level")) -> pd.DataFrame:
        """The traffic breakdown summed over everything but `by`."""
        if self.traffic is None:
            raise ValueError("this result has no traffic breakdown (simulated before it existed)")
        cols = ["reads", "writes", "bytes", "energy_pj"]
        return self.traffic.groupby(list(by), sort=False)[cols].sum()

    def comparison(self) -> pd.DataFrame:
        """Dense baseline against the trace: each figure and the ratio dense / trace (how many
        times less the trace needs; > 1 is a saving)."""
        if set(self.runs) != set(RUNS):
            raise ValueError("comparison needs both runs; simulate with baseline=True")
        totals = self.totals()
        rows = []
        for metric in COMPARED:
            dense, trace = float(totals.loc["dense", metric]), float(totals.loc["trace", metric])
            # nothing in either run (a model without BatchNorm has no vector-unit energy): no
            # difference, rather than 0/0
            ratio = dense / trace if trace else (float("inf") if dense else 1.0)
            rows.append({"metric": metric, "dense": dense, "trace": trace,
                         "dense_over_trace": ratio})
        return pd.DataFrame(rows).set_index("metric")

    # -- checks ---------------------------------------------------------------------------------
    def check(self, rtol: float = 1e-9) -> None:
        """Raise AssertionError if an invariant of the records fails (see module docstring)."""
        r = self.records
        served = r["served_sram_count"] + r["served_dram_count"] + r["served_prng_count"]
        bad = r[served != r["weight_accesses_count"]]
        if len(bad):
            raise AssertionError(f"conservation fails in {len(bad)} records, first: "
                                 f"{bad.iloc[0][list(KEY_COLUMNS)].to_dict()}")
        parts = r[list(ENERGY_COMPONENTS)].sum(axis=1)
        if not np.allclose(parts, r["energy_pj"], rtol=rtol, atol=1e-6):
            raise AssertionError("energy components do not sum to energy_pj")
        if (r["stall_cycles"] < 0).any() or (
                r["compute_cycles"] + r["stall_cycles"] != r["total_cycles"]).any():
            raise AssertionError("total_cycles != compute_cycles + stall_cycles >= 0")
        dram = (r["weight_dram_bytes_read"] + r["activation_dram_bytes_read"]
                + r["optimizer_state_dram_bytes_read"])
        if (dram != r["dram_bytes_read"]).any():
            raise AssertionError("DRAM bytes read by kind do not add up")
        if self.traffic is not None:
            self._check_traffic(rtol)

    def _check_traffic(self, rtol: float) -> None:
        """The breakdown conserves the records: DRAM bytes, SRAM accesses, traffic energy."""
        t, r = self.traffic, self.records
        assert t is not None  # the caller checks
        # every simulation runs this: one factorisation of the keys of both tables and integer
        # sums per key, rather than a pandas groupby per level (a third of `simulate`'s time)
        keys = ["run", "layer_id", "phase"]
        both = pd.concat([r[keys], t[keys]], ignore_index=True)
        codes, uniques = pd.MultiIndex.from_frame(both).factorize()
        record_codes, traffic_codes = codes[:len(r)], codes[len(r):]
        level = t["level"].to_numpy()

        def per_record(at_level: str, column: str) -> np.ndarray:
            """`column` of the traffic rows at `at_level`, summed per record key."""
            rows = level == at_level
            sums = np.zeros(len(uniques), dtype=np.int64)
            np.add.at(sums, traffic_codes[rows], t[column].to_numpy(dtype=np.int64)[rows])
            return sums[record_codes]

        expected = (r["dram_bytes_read"] + r["dram_bytes_written"]).to_numpy(dtype=np.int64)
        if not np.array_equal(per_record("dram", "bytes"), expected):
            raise AssertionError("traffic breakdown: DRAM bytes differ from the records")
        for level_name in ("weight_sram", "activation_sram"):
            for access in ("reads", "writes"):
                want = r[f"{level_name}_{access}_count"].to_numpy(dtype=np.int64)
                if not np.array_equal(per_record(level_name, access), want):
                    raise AssertionError(f"traffic breakdown: {level_name} accesses differ")
        energy = float(t["energy_pj"].sum())
        want_pj = float(r[list(TRAFFIC_ENERGY_COLUMNS)].to_numpy().sum())
        if not np.isclose(energy, want_pj, rtol=1e-6, atol=1e-3):
            raise AssertionError(f"traffic breakdown: energy {energy} != records' {want_pj}")

    # -- summary and files ----------------------------------------------------------------------
    def summary(self) -> dict:
        totals = self.totals()
        out = {
            "settings": self.settings,
            "trace": self.trace_identity,
            "baseline": self.baseline_identity,
            "config": self.config,
            # silicon per on-chip component and in total (accelsim.sim.area)
            "area_mm2": area_breakdown_mm2(self.config),
            "totals": {run: {k: _jsonable(v) for k, v in totals.loc[run].items()}
                       for run in totals.index},
        }
        if set(self.runs) == set(RUNS):
            cmp = self.comparison()
            out["comparison"] = {m: {k: _jsonable(v) for k, v in row.items()}
                                 for m, row in cmp.iterrows()}
        return out

    def save(self, folder) -> Path:
        """records.parquet, records.csv, traffic.parquet (when there is a breakdown),
        mappings.csv (what the mapper chose) and summary.json in `folder`, each written
        atomically."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "records.parquet") as tmp:
            self.records.to_parquet(tmp, index=False)
        with atomic_path(folder / "records.csv") as tmp:
            self.records.to_csv(tmp, index=False)
        if self.traffic is not None:
            with atomic_path(folder / "traffic.parquet") as tmp:
                self.traffic.to_parquet(tmp, index=False)
        if self.mappings is not None:
            with atomic_path(folder / "mappings.csv") as tmp:
                self.mappings.to_csv(tmp, index=False)
        write_json_atomic(folder / "summary.json", self.summary())
        return folder

    @classmethod
    def load(cls, folder) -> SimulationResult:
        folder = Path(folder)
        records = pd.read_parquet(folder / "records.parquet")
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        traffic_file = folder / "traffic.parquet"
        traffic = pd.read_parquet(traffic_file) if traffic_file.exists() else None
        return cls(records, summary["config"], summary["trace"], summary.get("settings", {}),
                   summary.get("baseline"), traffic=traffic,
                   mappings=_read_mappings(folder / "mappings.csv"))


MAPPING_COLUMNS = ("run", "layer_id", "layer", "phase", "policy", "dataflow", "loop_order",
                   "tile_m", "tile_n", "tile_k", "partial_sums_on_chip", "gemm_dram_words")


def mapping_table(works_by_run: dict) -> pd.DataFrame:
    """One row per (run, layer, phase): the GEMM mapping the memory model used (its policy,
    the buffer-level loop order outer to inner, the tile sizes in M, N, K, whether partial
    sums stay on chip, and the DRAM words of the phase's GEMM taken alone -- what the mapper
    minimised -- before inputs and outputs that stay on chip between layers are taken out)."""
    rows = [(run, w.layer_id, w.name, phase, m.policy, m.dataflow, m.loop_order, m.tile_m,
             m.tile_n, m.tile_k, bool(m.partial_sums_on_chip), int(m.dram_words))
            for run, works in works_by_run.items() for w in works
            for phase, m in w.mappings.items()]
    return pd.DataFrame(rows, columns=list(MAPPING_COLUMNS))


def _read_mappings(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None  # a result saved before the table existed
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise AccelsimError(f"{path}: unreadable ({type(exc).__name__}: {exc})") from None
    if list(table.columns) != list(MAPPING_COLUMNS):
        raise AccelsimError(f"{path}: expected the columns {', '.join(MAPPING_COLUMNS)}")
    return table


def _jsonable(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        if v.is_integer() and abs(v) < 2**53:
            return int(v) if not np.isnan(v) else None
        return v if np.isfinite(v) else str(v)
    return value
