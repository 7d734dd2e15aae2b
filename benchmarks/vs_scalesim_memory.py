"""accelsim's memory model (policy `scalesim`) against SCALE-Sim v3's per-operand traffic.

For every cached SCALE-Sim run in reports/validation/scalesim/ (zoo networks at several SRAM
sizes, and the probe layers on 8x16 / 16x8 arrays), per layer: ifmap / filter SRAM reads,
ofmap SRAM writes, ifmap / filter DRAM reads and ofmap DRAM writes, from
`accelsim.sim.mapping.mapper.map_gemm(..., policy="scalesim")` on the forward GEMM with SCALE-Sim's
buffer sizes (the input's DRAM reads replay SCALE-Sim's read buffer over the layer's
request order, `accelsim.sim.mapping.scalesim`). Like with like: SCALE-Sim's os ofmap SRAM
writes include R + C idle slots per fold, and some ofmap DRAM write counts carry its write
buffer's last-line artefact (up to C - 1 words); both are taken out of SCALE-Sim's figure
before comparing. Beside it, the default `mapper` policy's DRAM words on the same hardware.

Writes reports/validation/scalesim_memory.csv (per run and column: worst relative error over
layers, error of the total) and scalesim_memory.md. No SCALE-Sim needed: it reads the cache.
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
from accelsim.sim.mapping.mapper import map_gemm

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


def compare_run(key: str, layers: pd.DataFrame, measured: pd.DataFrame, *,
                replay: bool = True) -> pd.DataFrame:
    setup = parse_key(key)
    words = setup["sram_kb"] * 1024
    r, c, df = setup["rows"], setup["cols"], setup["dataflow"]
    out = []
    by_name = {str(row["name"]): row for row in layers.to_dict("records")}
    for row in measured.to_dict("records"):
        layer = by_name[str(row["layer"])]
        shape = phase_gemm(layer, "forward", 1)
        if not replay:
            shape = replace(shape, a_window=None)
        ours = map_gemm(shape, r, c, df, "scalesim", a_words=words, b_words=words)
        mapper = map_gemm(shape, r, c, df, "mapper", a_words=words, b_words=words, c_words=words)
        rec = {"run": key, "layer": row["layer"], "mapper_dram_words": mapper.dram_words,
               "mapper_loop_order": mapper.loop_order,
               "mapper_tiles_mnk": f"{mapper.tile_m}x{mapper.tile_n}x{mapper.tile_k}"}
        folds = -(-shape.m // r) * -(-shape.n // c)
        for column, operand, level in COLUMNS:
            theirs = int(row[column])
            if column == "ofmap_sram_writes_words" and df == "os":
                theirs -= folds * (r + c)  # idle slots SCALE-Sim counts as writes
            mine = getattr(ours.operands[operand], level)
            if column == "ofmap_dram_writes_words" and 0 < theirs - mine < c:
                theirs = mine  # its write buffer's last-line artefact (< C words)
            rec[f"scalesim_{column}"], rec[f"accelsim_{column}"] = theirs, mine
        rec["scalesim_dram_words"] = sum(rec[f"scalesim_{col}"] for col, *_ in COLUMNS[3:])
        out.append(rec)
    return pd.DataFrame(out)


def summarise(per_layer: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for key, g in per_layer.groupby("run", sort=True):
        rec = {"run": key, **parse_key(key), "layers": len(g)}
        for column, *_ in COLUMNS:
            theirs, mine = g[f"scalesim_{column}"], g[f"accelsim_{column}"]
            rel = ((mine - theirs).abs() / theirs.clip(lower=1))
            rec[f"worst_rel_err_pct_{column}"] = round(100 * float(rel.max()), 3)
            rec[f"total_rel_err_pct_{column}"] = round(
                100 * float((mine.sum() - theirs.sum()) / max(1, theirs.sum())), 3)
        rec["scalesim_dram_words"] = int(g["scalesim_dram_words"].sum())
        rec["mapper_dram_words"] = int(g["mapper_dram_words"].sum())
        rows.append(rec)
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    replay = "--without-replay" not in (sys.argv[1:] if argv is None else argv)
    per_layer = []
    layer_tables = {}
    for csv in sorted(ssr.CACHE_DIR.glob("*.csv")):
        key = csv.stem
        network = parse_key(key)["network"]
        if network not in layer_tables:
            custom = ssr.CUSTOM_NETWORKS.get(network)
            layer_tables[network] = custom() if custom else ssr.network_layers(network)
        per_layer.append(compare_run(key, layer_tables[network], pd.read_csv(csv),
                                     replay=replay))
    per_layer = pd.concat(per_layer, ignore_index=True)
    table = summarise(per_layer)
    if not replay:
        column = "ifmap_dram_reads_words"
        print("ifmap DRAM reads of the reuse-distance estimate (no replay): worst layer % "
              "(total %)")
        for _, r in table.iterrows():
            print(f"{r['run']}: {r[f'worst_rel_err_pct_{column}']:g} "
                  f"({r[f'total_rel_err_pct_{column}']:g})")
        return 0
    out = ssr.REPO_ROOT / "reports" / "validation"
    with atomic_path(out / "scalesim_memory.csv") as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(out / "scalesim_memory_layers.csv") as tmp:
        per_layer.to_csv(tmp, index=False)
    short = [c for c, *_ in COLUMNS]
    head = ["run", "layers"] + [c.replace("_words", "") for c in short] + [
        "DRAM words SCALE-Sim", "DRAM words mapper"]
    lines = ["# accelsim `scalesim` policy vs SCALE-Sim v3: per-operand traffic", "",
             "Written by `benchmarks/vs_scalesim_memory.py` from the cached runs. Each cell: "
             "worst |relative error| over the run's layers, % (total's error in brackets). "
             "SCALE-Sim's os idle-slot ofmap writes and its < C-word write-buffer artefact are "
             "taken out first; ifmap DRAM reads replay SCALE-Sim's read buffer (blocks of "
             "50·⌊words/100⌋ distinct words, forgotten when full) over the layer's request "
             "order. Last two columns: forward DRAM words (ifmap + filter + ofmap) of "
             "SCALE-Sim and of accelsim's default `mapper` on the same buffers.", "",
             "| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for _, r in table.iterrows():
        cells = [str(r["run"]), str(r["layers"])] + [
            f"{r[f'worst_rel_err_pct_{c}']:g} ({r[f'total_rel_err_pct_{c}']:g})" for c in short]
        cells += [f"{r['scalesim_dram_words']:,}", f"{r['mapper_dram_words']:,}"]
        lines.append("| " + " | ".join(cells) + " |")
    worst = {c: table[f"worst_rel_err_pct_{c}"].max() for c in short}
    lines += ["", "Worst over all runs: " + ", ".join(f"{c} {v:g}%" for c, v in worst.items()),
              ""]
    write_text_atomic(out / "scalesim_memory.md", "\n".join(lines))
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(table[["run"] + [f"worst_rel_err_pct_{c}" for c in short]
                    + ["scalesim_dram_words", "mapper_dram_words"]].to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
