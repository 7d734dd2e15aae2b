"""accelsim's memory model (policy `scalesim`) against SCALE-Sim v3's per-operand traffic.

For every cached SCALE-Sim run in reports/validation/scalesim/ (zoo networks at several SRAM
sizes, and the probe layers on 8x16 / 16x8 arrays), per layer: ifmap / filter SRAM reads,
ofmap SRAM writes, ifmap / filter DRAM reads and ofmap DRAM writes, from
`accelsim.sim.mapping.mapper.map_gemm(..., policy="scalesim")` on the forward GEMM with SCALE-Sim's
buffer sizes, mapped by `layer.phase_mapping` on `scalesim_runner.accelsim_config`'s hardware
as the simulation maps it (the input's DRAM reads replay SCALE-Sim's read buffer over the
layer's request order, `accelsim.sim.mapping.scalesim`); and the same six columns from
`simulate` itself (a dense one-step trace, inference) on that hardware. Like with like:
SCALE-Sim's os ofmap SRAM writes include R + C idle slots per fold, and some ofmap DRAM write
counts carry its write buffer's last-line artefact (up to C - 1 words); both are taken out of
SCALE-Sim's figure before comparing. Beside it, the default `mapper` policy's DRAM words on
the same hardware.

Writes reports/validation/scalesim_memory.csv (per run and column: worst relative error over
layers, error of the total), scalesim_simulation.csv (the same for `simulate`), their per-layer
tables and scalesim_memory.md. No SCALE-Sim needed: it reads the cache.
`--without-replay` prints the ifmap DRAM errors of the reuse-distance estimate the replay
replaced (the same shapes without their window geometry) and writes nothing.

    .venv/bin/python benchmarks/vs_scalesim_memory.py [--without-replay]
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd

from accelsim.io import atomic_path, write_text_atomic
from accelsim.sim.mapping.gemm import phase_gemm
from accelsim.sim.mapping.layer import phase_mapping

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scalesim_runner as ssr

COLUMNS = (("ifmap_sram_reads_words", "A", "sram_reads"),
           ("filter_sram_reads_words", "B", "sram_reads"),
           ("ofmap_sram_writes_words", "C", "sram_writes"),
           ("ifmap_dram_reads_words", "A", "dram_reads"),
           ("filter_dram_reads_words", "B", "dram_reads"),
           ("ofmap_dram_writes_words", "C", "dram_writes"))


def parse_key(key: str) -> dict:
    """network, dataflow, SRAM kB and array from a cache key (see ScaleSimSetup.key)."""
    parts = key.split("_")
    network, dataflow, sram = parts[0], parts[1], parts[2]
    rows = cols = 32
    if len(parts) > 3 and "x" in parts[3]:
        rows, cols = (int(v) for v in parts[3].split("x"))
    return {"network": network, "dataflow": dataflow, "sram_kb": int(sram.rstrip("kB")),
            "rows": rows, "cols": cols}


def _like_with_like(column: str, theirs: int, mine: int, *, dataflow: str, folds: int,
                    rows: int, cols: int) -> int:
    """SCALE-Sim's figure for `column` with its two artefacts taken out (module doc)."""
    if column == "ofmap_sram_writes_words" and dataflow == "os":
        theirs -= folds * (rows + cols)  # idle slots SCALE-Sim counts as writes
    if column == "ofmap_dram_writes_words" and 0 < theirs - mine < cols:
        theirs = mine  # its write buffer's last-line artefact (< C words)
    return theirs


def compare_run(key: str, layers: pd.DataFrame, measured: pd.DataFrame, *,
                replay: bool = True) -> pd.DataFrame:
    """Per layer: SCALE-Sim's six columns against `map_gemm` under the `scalesim` policy on
    the forward GEMM, and the default `mapper`'s DRAM words beside them."""
    setup = parse_key(key)
    r, c, df = setup["rows"], setup["cols"], setup["dataflow"]
    kb = setup["sram_kb"]
    # the run's hardware as the simulation sees it, and the buffers each policy gives A and B
    config = ssr.accelsim_config(ssr.ScaleSimSetup(df, r, c, kb, kb, kb))
    mapper_config = replace(config, reuse_policy="mapper")
    out = []
    by_name = {str(row["name"]): row for row in layers.to_dict("records")}
    for row in measured.to_dict("records"):
        layer = by_name[str(row["layer"])]
        shape = phase_gemm(layer, "forward", 1)
        if not replay:
            shape = replace(shape, a_window=None)
        ours = phase_mapping(shape, "forward", config)
        mapper = phase_mapping(shape, "forward", mapper_config)
        rec = {"run": key, "layer": row["layer"], "mapper_dram_words": mapper.dram_words,
               "mapper_loop_order": mapper.loop_order,
               "mapper_tiles_mnk": f"{mapper.tile_m}x{mapper.tile_n}x{mapper.tile_k}"}
        folds = -(-shape.m // r) * -(-shape.n // c)
        for column, operand, level in COLUMNS:
            mine = getattr(ours.operands[operand], level)
            theirs = _like_with_like(column, int(row[column]), mine, dataflow=df, folds=folds,
                                     rows=r, cols=c)
            rec[f"scalesim_{column}"], rec[f"accelsim_{column}"] = theirs, mine
        rec["scalesim_dram_words"] = sum(rec[f"scalesim_{col}"] for col, *_ in COLUMNS[3:])
        out.append(rec)
    return pd.DataFrame(out)


def simulated_columns(result, layers: pd.DataFrame, dataflow: str, rows: int,
                      cols: int) -> pd.DataFrame:
    """SCALE-Sim's six columns as `simulate` (inference, dense) reports them, per layer, in
    words (the configs of `scalesim_runner.accelsim_config` have one-byte words and one-word
    SRAM banks): from the traffic breakdown, the forward phase's activation operands (A and
    the output, partial sums included) and the weights of the load and forward phases.
    SCALE-Sim has no bias operand: the biases' reads are taken out."""
    traffic = result.traffic[result.traffic["run"] == "trace"]
    records = result.records[result.records["run"] == "trace"]
    forward = traffic[traffic["phase"] == "forward"]

    def moved(frame, operands, level, way):
        picked = frame[frame["operand"].isin(operands) & (frame["level"] == level)]
        return picked.groupby("layer_id")[way].sum()

    output = ["activations", "partial_sums"]
    weight_dram = records.groupby("layer_id")["weight_dram_bytes_read"].sum()
    table = layers[["layer_id", "name", "bias_count", "fwd_m", "fwd_n"]].copy()
    ids = table["layer_id"].astype(int)
    # weights enter the array once (ws), once per row fold (os) or column fold of M (is)
    entries = {"ws": 1, "os": rows, "is": cols}[dataflow]
    bias_entries = (table["bias_count"] * (1 if dataflow == "ws" else
                                           -(-table["fwd_m"] // entries))).astype("int64")
    figures = {
        "ifmap_sram_reads_words": moved(forward, ["activations"], "activation_sram", "reads"),
        "filter_sram_reads_words": moved(forward, ["weights"], "weight_sram", "reads"),
        "ofmap_sram_writes_words": moved(forward, output, "activation_sram", "writes"),
        "ifmap_dram_reads_words": moved(forward, ["activations"], "dram", "reads"),
        "filter_dram_reads_words": weight_dram,
        "ofmap_dram_writes_words": moved(forward, output, "dram", "writes"),
    }
    out = pd.DataFrame({"layer": table["name"].astype(str).to_numpy()})
    for column, values in figures.items():
        out[column] = ids.map(values).fillna(0).astype("int64").to_numpy()
    out["filter_sram_reads_words"] -= bias_entries.to_numpy()
    out["filter_dram_reads_words"] -= table["bias_count"].astype("int64").to_numpy()
    return out


def simulate_run(key: str, layers: pd.DataFrame, measured: pd.DataFrame) -> pd.DataFrame:
    """Per layer: SCALE-Sim's six columns against `simulate` (a dense one-step trace of the
    layer table, inference, batch 1) on `scalesim_runner.accelsim_config`'s hardware."""
    from accelsim.sim.simulation import simulate
    from accelsim.trace.synthetic import synthetic_trace

    setup = parse_key(key)
    r, c, df = setup["rows"], setup["cols"], setup["dataflow"]
    kb = setup["sram_kb"]
    config = ssr.accelsim_config(ssr.ScaleSimSetup(df, r, c, kb, kb, kb))
    trace = synthetic_trace(layers, 0, 0, batch_size=1, dense=True,
                            model={"name": setup["network"], "args": {}})
    return compare_simulated(key, layers, measured,
                             simulate(trace, config, mode="inference", baseline=False))


def compare_simulated(key: str, layers: pd.DataFrame, measured: pd.DataFrame,
                      result) -> pd.DataFrame:
    """Per layer: SCALE-Sim's six columns against a simulation result of the layer table on
    the run's hardware (from `simulate`, or the CLI's result folder)."""
    setup = parse_key(key)
    r, c, df = setup["rows"], setup["cols"], setup["dataflow"]
    ours = simulated_columns(result, layers, df, r, c).set_index("layer")
    by_name = {str(row["name"]): row for row in layers.to_dict("records")}
    out = []
    for row in measured.to_dict("records"):
        layer = by_name[str(row["layer"])]
        m, n = int(layer["fwd_m"]), int(layer["fwd_n"])
        folds = -(-m // r) * -(-n // c)
        rec = {"run": key, "layer": row["layer"]}
        for column, *_ in COLUMNS:
            mine = int(ours.loc[str(row["layer"]), column])
            rec[f"scalesim_{column}"] = _like_with_like(column, int(row[column]), mine,
                                                        dataflow=df, folds=folds, rows=r,
                                                        cols=c)
            rec[f"simulate_{column}"] = mine
        out.append(rec)
    return pd.DataFrame(out)


def summarise(per_layer: pd.DataFrame, side: str = "accelsim") -> pd.DataFrame:
    """Per run and column: the worst |relative error| over layers and the total's error, of
    the `side` columns ("accelsim": `map_gemm`; "simulate": the simulation) against
    SCALE-Sim's."""
    rows = []
    for key, g in per_layer.groupby("run", sort=True):
        rec = {"run": key, **parse_key(key), "layers": len(g)}
        for column, *_ in COLUMNS:
            theirs, mine = g[f"scalesim_{column}"], g[f"{side}_{column}"]
            rel = ((mine - theirs).abs() / theirs.clip(lower=1))
            rec[f"worst_rel_err_pct_{column}"] = round(100 * float(rel.max()), 3)
            rec[f"total_rel_err_pct_{column}"] = round(
                100 * float((mine.sum() - theirs.sum()) / max(1, theirs.sum())), 3)
        for extra in ("scalesim_dram_words", "mapper_dram_words"):
            if extra in g:
                rec[extra] = int(g[extra].sum())
        rows.append(rec)
    return pd.DataFrame(rows)


def layer_tables_of(keys) -> dict:
    """network -> its layer table, for the networks of the cache keys (torch for the zoo)."""
    tables: dict = {}
    for key in keys:
        network = parse_key(key)["network"]
        if network not in tables:
            custom = ssr.CUSTOM_NETWORKS.get(network)
            tables[network] = custom() if custom else ssr.network_layers(network)
    return tables


def cached_keys() -> list[str]:
    return sorted(csv.stem for csv in ssr.CACHE_DIR.glob("*.csv"))


def _markdown_rows(table: pd.DataFrame, with_dram: bool) -> list[str]:
    short = [c for c, *_ in COLUMNS]
    head = ["run", "layers"] + [c.replace("_words", "") for c in short]
    if with_dram:
        head += ["DRAM words SCALE-Sim", "DRAM words mapper"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for _, r in table.iterrows():
        cells = [str(r["run"]), str(r["layers"])] + [
            f"{r[f'worst_rel_err_pct_{c}']:g} ({r[f'total_rel_err_pct_{c}']:g})" for c in short]
        if with_dram:
            cells += [f"{r['scalesim_dram_words']:,}", f"{r['mapper_dram_words']:,}"]
        lines.append("| " + " | ".join(cells) + " |")
    worst = {c: table[f"worst_rel_err_pct_{c}"].max() for c in short}
    return lines + ["", "Worst over all runs: " + ", ".join(f"{c} {v:g}%"
                                                             for c, v in worst.items())]


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    replay = "--without-replay" not in args
    keys = cached_keys()
    layer_tables = layer_tables_of(keys)
    per_layer = pd.concat([compare_run(key, layer_tables[parse_key(key)["network"]],
                                       pd.read_csv(ssr.CACHE_DIR / f"{key}.csv"),
                                       replay=replay) for key in keys], ignore_index=True)
    table = summarise(per_layer)
    if not replay:
        column = "ifmap_dram_reads_words"
        print("ifmap DRAM reads of the reuse-distance estimate (no replay): worst layer % "
              "(total %)")
        for _, r in table.iterrows():
            print(f"{r['run']}: {r[f'worst_rel_err_pct_{column}']:g} "
                  f"({r[f'total_rel_err_pct_{column}']:g})")
        return 0
    simulated = pd.concat([simulate_run(key, layer_tables[parse_key(key)["network"]],
                                        pd.read_csv(ssr.CACHE_DIR / f"{key}.csv"))
                           for key in keys], ignore_index=True)
    sim_table = summarise(simulated, "simulate")
    out = ssr.REPO_ROOT / "reports" / "validation"
    with atomic_path(out / "scalesim_memory.csv") as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(out / "scalesim_memory_layers.csv") as tmp:
        per_layer.to_csv(tmp, index=False)
    with atomic_path(out / "scalesim_simulation.csv") as tmp:
        sim_table.to_csv(tmp, index=False)
    with atomic_path(out / "scalesim_simulation_layers.csv") as tmp:
        simulated.to_csv(tmp, index=False)
    lines = ["# accelsim `scalesim` policy vs SCALE-Sim v3: per-operand traffic", "",
             "Written by `benchmarks/vs_scalesim_memory.py` from the cached runs "
             "(`reports/validation/scalesim/`). Each cell: worst |relative error| over the "
             "run's layers, % (total's error in brackets). SCALE-Sim's os idle-slot ofmap "
             "writes and its < C-word write-buffer artefact are taken out first. The hardware "
             "of each run is `scalesim_runner.accelsim_config`: filter SRAM = weight SRAM "
             "(operand B), ifmap + ofmap SRAMs = the activation SRAM, split in halves by the "
             "`scalesim` policy, one-byte words, one-word banks.", "",
             "## The memory model (`map_gemm`, policy `scalesim`)", "",
             "The forward GEMM of each layer; ifmap DRAM reads replay SCALE-Sim's read buffer "
             "(blocks of 50·⌊words/100⌋ distinct words, forgotten when full) over the layer's "
             "request order. Last two columns: forward DRAM words (ifmap + filter + ofmap) "
             "of SCALE-Sim and of accelsim's default `mapper` on the same buffers.", "",
             *_markdown_rows(table, True), "",
             "## The simulation (`simulate`, `reuse_policy: scalesim`)", "",
             "A dense one-step trace of the same layer table simulated for inference "
             "(batch 1); the columns read from the result's traffic breakdown: ifmap = the "
             "forward phase's `activations` operand (A), ofmap = its output and partial sums, "
             "filter = the weights of the load and forward phases, their bias words taken "
             "out (SCALE-Sim has no bias). Under this policy the simulation gives operand A "
             "half the activation SRAM (SCALE-Sim's ifmap SRAM; the output the other half), "
             "pins no weight (the weight SRAM is SCALE-Sim's filter SRAM, a read buffer) and "
             "takes the weights' SRAM reads and DRAM reads from the mapping's operand B "
             "(`accelsim.sim.mapping.scalesim`): the counts of `map_gemm` above, not a rule "
             "of its own.", "",
             *_markdown_rows(sim_table, False), ""]
    write_text_atomic(out / "scalesim_memory.md", "\n".join(lines))
    short = [c for c, *_ in COLUMNS]
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print("map_gemm (policy scalesim), worst |error| % per layer")
        print(table[["run"] + [f"worst_rel_err_pct_{c}" for c in short]
                    + ["scalesim_dram_words", "mapper_dram_words"]].to_string(index=False))
        print("\nsimulate (reuse_policy scalesim), worst |error| % per layer")
        print(sim_table[["run"] + [f"worst_rel_err_pct_{c}" for c in short]
                        ].to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
