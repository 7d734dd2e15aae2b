"""Run SCALE-Sim v3 on a model-zoo network and cache its per-layer figures.

SCALE-Sim lives in its own virtual environment (`.scalesim-venv` at the repository root): it
pins numpy 1.x and is never a dependency of accelsim. This module

1. creates that environment when it is missing;
2. turns accelsim's layer table (traces/README.md schema) into SCALE-Sim's topology, config and
   layout files;
3. runs SCALE-Sim (its Python API, with ``save_disk_space`` so no cycle traces are written) in a
   child process, timing it and reading the child's peak resident memory;
4. parses COMPUTE_REPORT.csv and DETAILED_ACCESS_REPORT.csv into one row per layer and caches
   them under ``reports/validation/scalesim/<network>_<dataflow>_<sram>kB.csv`` with a JSON of
   run facts next to it, so a comparison need not rerun a several-minute job.

Every SCALE-Sim count is in words, and its word is fixed at one byte: "512 kB" of SRAM holds
512*1024 words whatever the precision.

Command line (project venv)::

    .venv/bin/python benchmarks/scalesim_runner.py --network lenet-5 --dataflow ws os
    .venv/bin/python benchmarks/scalesim_runner.py --network resnet18 --dataflow ws --rerun
    .venv/bin/python benchmarks/scalesim_runner.py --verify    # closed forms vs cached runs

`closed_form_figures` gives SCALE-Sim's per-layer compute cycles and operand traffic from the
GEMM dimensions alone; `--verify` checks them against every cached run and writes
reports/validation/scalesim_closed_forms.{csv,md}.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from accelsim.io import atomic_path, write_text_atomic

REPO_ROOT = Path(__file__).resolve().parents[1]
SCALESIM_VENV = REPO_ROOT / ".scalesim-venv"
CACHE_DIR = REPO_ROOT / "reports" / "validation" / "scalesim"
# scratch space for topology/config files and SCALE-Sim's raw reports (gitignored)
WORK_DIR = REPO_ROOT / "benchmarks" / "results" / "scalesim"

SCALESIM_VERSION = "3.0.0"
# scalesim 3.0.0 breaks at run time with numpy 2.x; these pins are known to work
SCALESIM_REQUIREMENTS = (f"scalesim=={SCALESIM_VERSION}", "numpy==1.26.4", "pandas<3",
                         "numba<0.62")

DATAFLOWS = ("ws", "os", "is")

# SCALE-Sim's per-layer report columns, renamed with units (cycles or words)
_COMPUTE_COLUMNS = {
    "Total Cycles (incl. prefetch)": "total_cycles_incl_prefetch",
    "Total Cycles": "compute_cycles",
    "Stall Cycles": "stall_cycles",
    "Overall Util %": "overall_util_pct",
    "Mapping Efficiency %": "mapping_efficiency_pct",
    "Compute Util %": "compute_util_pct",
}
_ACCESS_COLUMNS = {
    "SRAM IFMAP Reads": "ifmap_sram_reads_words",
    "SRAM Filter Reads": "filter_sram_reads_words",
    "SRAM OFMAP Writes": "ofmap_sram_writes_words",
    "DRAM IFMAP Reads": "ifmap_dram_reads_words",
    "DRAM Filter Reads": "filter_dram_reads_words",
    "DRAM OFMAP Writes": "ofmap_dram_writes_words",
    "DRAM IFMAP Start Cycle": "ifmap_dram_start_cycle",
    "DRAM Filter Start Cycle": "filter_dram_start_cycle",
    "DRAM OFMAP Stop Cycle": "ofmap_dram_stop_cycle",
}


@dataclass(frozen=True)
class ScaleSimSetup:
    """One SCALE-Sim configuration: array, dataflow and the three SRAM sizes (kB = k words)."""
    dataflow: str = "ws"
    rows: int = 32
    cols: int = 32
    ifmap_sram_kb: int = 512
    filter_sram_kb: int = 512
    ofmap_sram_kb: int = 512

    def __post_init__(self):
        if self.dataflow not in DATAFLOWS:
            raise ValueError(f"dataflow must be one of {DATAFLOWS}, got {self.dataflow!r}")
        for field in ("rows", "cols", "ifmap_sram_kb", "filter_sram_kb", "ofmap_sram_kb"):
            if int(getattr(self, field)) < 1:
                raise ValueError(f"{field} must be >= 1, got {getattr(self, field)!r}")

    @property
    def sram_tag(self) -> str:
        sizes = {self.ifmap_sram_kb, self.filter_sram_kb, self.ofmap_sram_kb}
        if len(sizes) == 1:
            return f"{self.ifmap_sram_kb}kB"
        return f"{self.ifmap_sram_kb}-{self.filter_sram_kb}-{self.ofmap_sram_kb}kB"

    def key(self, network: str, batch_size: int = 1) -> str:
        array = "" if (self.rows, self.cols) == (32, 32) else f"_{self.rows}x{self.cols}"
        batch = "" if batch_size == 1 else f"_b{batch_size}"
        return f"{network}_{self.dataflow}_{self.sram_tag}{array}{batch}"


# ---------------------------------------------------------------- the same hardware in accelsim

def accelsim_overrides(setup: ScaleSimSetup) -> dict:
    """accelsim config overrides (`load_accelerator_config(..., overrides=)`) for the hardware
    of one SCALE-Sim setup, the one translation every comparison uses:

    - its array and dataflow; 1-byte words (SCALE-Sim's word is fixed at one byte);
    - the weight SRAM is its filter SRAM: weights are the memory model's B operand;
    - the activation SRAM is its ifmap and ofmap SRAMs side by side: the `scalesim` reuse
      policy gives operand A (the ifmap) half of it and the output the other half, as
      SCALE-Sim's split does (so both must be the same size here);
    - one-word banks, so SRAM access counts are word counts like SCALE-Sim's;
    - the `scalesim` reuse policy (SCALE-Sim's fixed schedule and read buffer)."""
    if setup.ifmap_sram_kb != setup.ofmap_sram_kb:
        raise ValueError(f"{setup.sram_tag}: the activation SRAM is split in halves for the "
                         "ifmap and the ofmap; give them the same size")
    words = 1024  # a SCALE-Sim kB holds 1024 one-byte words
    return {
        "pe.rows": setup.rows, "pe.cols": setup.cols, "pe.dataflow": setup.dataflow,
        "weight_bits": 8,
        "weight_sram.capacity_bytes": setup.filter_sram_kb * words,
        "weight_sram.banks": 1, "weight_sram.bank_width_bits": 8,
        # streamed weights pass the filter SRAM on their way in
        "staging_buffer_bytes": setup.filter_sram_kb * words,
        "activation_sram.capacity_bytes": (setup.ifmap_sram_kb + setup.ofmap_sram_kb) * words,
        "activation_sram.banks": 1, "activation_sram.bank_width_bits": 8,
        "reuse_policy": "scalesim",
    }


def accelsim_config(setup: ScaleSimSetup):
    """accelsim's default accelerator turned into `setup`'s hardware (`accelsim_overrides`)."""
    from accelsim.config import load_accelerator_config

    return load_accelerator_config("default", overrides=accelsim_overrides(setup))


# ---------------------------------------------------------------- the SCALE-Sim environment

def venv_python(venv: Path = SCALESIM_VENV) -> Path:
    return venv / "bin" / "python"


def scalesim_available(venv: Path = SCALESIM_VENV) -> bool:
    """True when `venv` holds an importable scalesim (no install attempted)."""
    python = venv_python(venv)
    if not python.exists():
        return False
    probe = subprocess.run([str(python), "-c", "import scalesim.scale_sim"],
                           capture_output=True, text=True)
    return probe.returncode == 0


def ensure_scalesim_venv(venv: Path = SCALESIM_VENV, *, quiet: bool = False) -> Path:
    """Create `venv` with the pinned SCALE-Sim when it lacks one; return its python."""
    if scalesim_available(venv):
        return venv_python(venv)
    if not quiet:
        print(f"installing SCALE-Sim {SCALESIM_VERSION} into {venv} ...", file=sys.stderr)
    if not venv_python(venv).exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv_python(venv)), "-m", "pip", "install", "-q",
                    *SCALESIM_REQUIREMENTS], check=True)
    if not scalesim_available(venv):
        raise RuntimeError(f"scalesim still not importable from {venv} after installing it")
    return venv_python(venv)


# ---------------------------------------------------------------- inputs SCALE-Sim reads

def network_layers(network: str) -> pd.DataFrame:
    """accelsim's layer table for a zoo network at its default input shape (torch needed).
    A copy each call: the caller may change it."""
    return _network_layers(network).copy()


@functools.lru_cache(maxsize=8)
def _network_layers(network: str) -> pd.DataFrame:
    # building the model and tracing its geometry takes about 0.1 s a call, and the
    # comparisons ask for the same few networks dozens of times in one process
    from accelsim.models import build_model, default_input_shape
    from accelsim.trace.torch_geometry import layers_from_model

    return layers_from_model(build_model(network), default_input_shape(network))


def topology_rows(layers: pd.DataFrame, batch_size: int = 1, *, gemm: bool = False) -> list[list]:
    """SCALE-Sim topology rows for `layers`, in execution order.

    Conv form (`gemm=False`): ``name, IFMAP H, IFMAP W, Filt H, Filt W, Channels, NumFilt,
    Stride``. SCALE-Sim has no padding field, so the padding is folded into the input size:
    the input written is the part of the padded input the windows cover,
    ``(out - 1) * stride + kernel``, so that SCALE-Sim's output size equals PyTorch's. It has
    no batch field either, so conv form needs batch 1. A linear layer becomes a 1x1
    convolution over a ``batch x 1`` image with ``in_features`` channels: the same GEMM
    (M = batch, K = in, N = out) with the same distinct addresses as SCALE-Sim's GEMM form.

    GEMM form (`gemm=True`): ``name, M, N, K`` with M = output positions x batch,
    N = output channels, K = window size x channels (the trace's forward GEMM).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if batch_size > 1 and not gemm and (layers["kind"] == "conv2d").any():
        raise ValueError("SCALE-Sim's conv form has no batch: use gemm=True for batch > 1")
    rows = []
    for _, layer in layers.sort_values("exec_order", kind="stable").iterrows():
        name = str(layer["name"])
        if int(layer["groups"]) != 1:
            # SCALE-Sim models only depthwise convolutions (named "DP..."), not general groups
            raise NotImplementedError(f"{name}: grouped convolutions are not mapped to SCALE-Sim")
        if gemm:
            rows.append([name, int(layer["fwd_m"]) * batch_size, int(layer["fwd_n"]),
                         int(layer["fwd_k"])])
        elif layer["kind"] == "linear":
            rows.append([name, batch_size, 1, 1, 1, int(layer["fwd_k"]), int(layer["fwd_n"]), 1])
        else:
            cout, cin, kh, kw = (int(v) for v in layer["weight_shape"])
            _, oh, ow = (int(v) for v in layer["out_shape"])
            sh, sw = (int(v) for v in layer["stride"])
            if sh != sw:
                raise NotImplementedError(f"{name}: SCALE-Sim takes one stride for both axes")
            # The input the windows actually cover: (out - 1) * stride + kernel, i.e. the padded
            # input minus the trailing rows/columns PyTorch's floor division never reaches.
            # SCALE-Sim sizes its output as ceil((H - k + s) / s), which would add a phantom
            # output row and column for the full padded size whenever (H + 2p - k) % s != 0.
            rows.append([name, (oh - 1) * sh + kh, (ow - 1) * sw + kw, kh, kw, cin, cout, sh])
    return rows


def topology_csv(rows: list[list], *, gemm: bool = False) -> str:
    # SCALE-Sim drops the last field of every row, hence the trailing commas
    header = ("Layer,M,N,K," if gemm else
              "Layer name,IFMAP Height,IFMAP Width,Filter Height,Filter Width,Channels,"
              "Num Filter,Strides,")
    return "\n".join([header] + [",".join(str(v) for v in row) + "," for row in rows]) + "\n"


def config_cfg(setup: ScaleSimSetup, run_name: str) -> str:
    """A SCALE-Sim config with every key its parser reads (it reads them all, used or not)."""
    return f"""[general]
run_name = {run_name}

[architecture_presets]
ArrayHeight = {setup.rows}
ArrayWidth = {setup.cols}
IfmapSramSzkB = {setup.ifmap_sram_kb}
FilterSramSzkB = {setup.filter_sram_kb}
OfmapSramSzkB = {setup.ofmap_sram_kb}
IfmapOffset = 0
FilterOffset = 10000000
OfmapOffset = 20000000
Bandwidth = 10
Dataflow = {setup.dataflow}
MemoryBanks = 1
ReadRequestBuffer = 512
WriteRequestBuffer = 512

[layout]
IfmapCustomLayout = False
IfmapSRAMBankBandwidth = 10
IfmapSRAMBankNum = 10
IfmapSRAMBankPort = 2
FilterCustomLayout = False
FilterSRAMBankBandwidth = 10
FilterSRAMBankNum = 10
FilterSRAMBankPort = 2

[sparsity]
SparsitySupport = false
SparseRep = ellpack_block
OptimizedMapping = false
BlockSize = 8
RandomNumberGeneratorSeed = 40

[run_presets]
InterfaceBandwidth = CALC
UseRamulatorTrace = False
"""


# The layout file must exist even though no custom layout is used; a header alone will do.
LAYOUT_CSV = "Layer name,\n"

# What the child process runs: SCALE-Sim's own API, without its cycle-by-cycle trace files
# (its command line takes a "-s N" flag but ignores it and always writes them).
_CHILD = """
import sys
from scalesim.scale_sim import scalesim
cfg, topo, layout, out, gemm = sys.argv[1:6]
sim = scalesim(save_disk_space=True, verbose=True, config=cfg, topology=topo, layout=layout,
               input_type_gemm=gemm == "1")
sim.run_scale(top_path=out)
"""


# ---------------------------------------------------------------- closed forms

def _ceil_div(a: int, b: int) -> int:
    return -(-int(a) // int(b))


def filter_buffer_window_words(sram_kb: int) -> int:
    """Distinct filter words SCALE-Sim's CALC-mode read buffer keeps before it starts afresh.

    It splits the SRAM into 100 sets of floor(words / 100) addresses, half of them active:
    a block of 50 full sets. An address read again while its block is the current one is a
    hit; once the block fills, a new empty block starts and older addresses miss again.
    """
    return 50 * (sram_kb * 1024 // 100)


def os_filter_dram_reads(k: int, n: int, m: int, rows: int, cols: int, sram_kb: int) -> int:
    """SCALE-Sim's os filter DRAM reads: column folds in order, each a K x (<= cols) slice read
    once per row fold (ceil(M/rows) passes); the rule is accelsim's own
    (`accelsim.sim.mapping.scalesim`, policy `scalesim`), kept in one place."""
    from accelsim.sim.mapping.scalesim import os_filter_reads, scalesim_block_words

    return os_filter_reads(k, n, _ceil_div(m, rows), cols,
                            scalesim_block_words(sram_kb * 1024))


def closed_form_figures(layers: pd.DataFrame, setup: ScaleSimSetup,
                        batch_size: int = 1) -> pd.DataFrame:
    """SCALE-Sim v3's per-layer figures in CALC bandwidth mode, from the forward GEMM alone.

    With M = output positions x batch, N = output channels, K = window x channels (the trace's
    fwd_m, fwd_n, fwd_k) on an R x C array:

    - compute cycles (its "Total Cycles", stalls are 0 in CALC mode):
      ws: ceil(K/R) * ceil(N/C) * (2R + C + M - 2) - 1
      os: ceil(M/R) * ceil(N/C) * (R + C + K - 2) - 1
      (the -1: it reports the index of the last cycle, counted from 0)
    - filter SRAM reads (words into the array): ws K*N; os K*N*ceil(M/R)
    - filter DRAM reads: ws K*N; os `os_filter_dram_reads` (K*N when it fits)
    - ifmap SRAM reads: M*K*ceil(N/C) (both)
    - ofmap SRAM writes: ws M*N*ceil(K/R) (a partial sum per row fold);
      os M*N + ceil(M/R)*ceil(N/C)*(R + C) (an artefact of R + C idle writes per fold)
    - ofmap DRAM writes, ideal: as ofmap SRAM writes for ws, M*N for os (SCALE-Sim adds a small
      artefact of its write buffer to some layers; see the validation note)
    """
    R, C = setup.rows, setup.cols
    out = []
    for _, layer in layers.sort_values("exec_order", kind="stable").iterrows():
        m, n, k = int(layer["fwd_m"]) * batch_size, int(layer["fwd_n"]), int(layer["fwd_k"])
        row_folds_m, col_folds = _ceil_div(m, R), _ceil_div(n, C)
        if setup.dataflow == "ws":
            folds = _ceil_div(k, R) * col_folds
            cycles = folds * (2 * R + C + m - 2) - 1
            filter_sram = filter_dram = k * n
            ofmap_sram = m * n * _ceil_div(k, R)
            ofmap_dram = ofmap_sram
        elif setup.dataflow == "os":
            folds = row_folds_m * col_folds
            cycles = folds * (R + C + k - 2) - 1
            filter_sram = k * n * row_folds_m
            filter_dram = os_filter_dram_reads(k, n, m, R, C, setup.filter_sram_kb)
            ofmap_sram = m * n + folds * (R + C)
            ofmap_dram = m * n
        else:
            raise NotImplementedError("closed forms are derived for ws and os only")
        out.append({"layer": str(layer["name"]), "layer_id": int(layer["layer_id"]),
                    "m": m, "n": n, "k": k, "folds": folds, "compute_cycles": cycles,
                    "filter_sram_reads_words": filter_sram,
                    "filter_dram_reads_words": filter_dram,
                    "ifmap_sram_reads_words": m * k * col_folds,
                    "ofmap_sram_writes_words": ofmap_sram,
                    "ofmap_dram_writes_words": ofmap_dram})
    return pd.DataFrame(out)


CLOSED_FORM_COLUMNS = ("compute_cycles", "filter_sram_reads_words", "filter_dram_reads_words",
                       "ifmap_sram_reads_words", "ofmap_sram_writes_words",
                       "ofmap_dram_writes_words")


def closed_form_errors(measured: pd.DataFrame, predicted: pd.DataFrame) -> pd.DataFrame:
    """Per layer and figure: SCALE-Sim minus the closed form (0 = exact)."""
    merged = measured.merge(predicted, on="layer", suffixes=("", "_closed_form"))
    if len(merged) != len(measured):
        raise ValueError("layers of the SCALE-Sim result and the closed form differ")
    diff = pd.DataFrame({"layer": merged["layer"]})
    for col in CLOSED_FORM_COLUMNS:
        diff[col] = merged[col].astype("int64") - merged[f"{col}_closed_form"].astype("int64")
    return diff


# ---------------------------------------------------------------- running and parsing

@dataclass
class RunFacts:
    network: str
    dataflow: str
    rows: int
    cols: int
    ifmap_sram_kb: int
    filter_sram_kb: int
    ofmap_sram_kb: int
    batch_size: int
    topology_form: str
    layer_count: int
    wall_time_s: float
    peak_memory_bytes: int
    scalesim_version: str
    host: str
    cpu_count: int
    finished_at: str
    # absent from runs cached before they were recorded: the child's CPU seconds (user +
    # system; less disturbed by other work than wall time) and the 1-minute load average
    # when it started (the machine's other work, for reading the wall time)
    cpu_time_s: float | None = None
    load_avg_1min: float | None = None


def _read_report(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, skipinitialspace=True)
    frame.columns = [c.strip() for c in frame.columns]
    return frame.loc[:, [c for c in frame.columns if c and not c.startswith("Unnamed")]]


def parse_reports(report_dir: Path, rows: list[list]) -> pd.DataFrame:
    """One row per layer from SCALE-Sim's COMPUTE and DETAILED_ACCESS reports."""
    compute = _read_report(report_dir / "COMPUTE_REPORT.csv")
    access = _read_report(report_dir / "DETAILED_ACCESS_REPORT.csv")
    if len(compute) != len(rows) or len(access) != len(rows):
        raise RuntimeError(f"SCALE-Sim reported {len(compute)}/{len(access)} layers, "
                           f"expected {len(rows)} ({report_dir})")
    out = pd.DataFrame({"scalesim_layer": compute["LayerID"].astype(int),
                        "layer": [r[0] for r in rows]})
    for src, dst in _COMPUTE_COLUMNS.items():
        out[dst] = compute[src]
    for src, dst in _ACCESS_COLUMNS.items():
        out[dst] = access[src]
    for col in out.columns:
        if col.endswith(("_cycles", "_words", "_cycle")) or col == "compute_cycles":
            out[col] = out[col].round().astype("int64")
    return out


def _run_child(python: Path, args: list[str], log_path: Path
               ) -> tuple[int, float, int, float]:
    """Run SCALE-Sim in a child; return (exit code, wall seconds, peak RSS bytes, CPU seconds)
    of that child."""
    start = time.perf_counter()
    with open(log_path, "w") as log:
        child = subprocess.Popen([str(python), "-c", _CHILD, *args], stdout=log,
                                 stderr=subprocess.STDOUT, cwd=log_path.parent)
        # wait4 gives this child's own rusage, unlike RUSAGE_CHILDREN (all children so far)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    wall_s = time.perf_counter() - start
    cpu_s = usage.ru_utime + usage.ru_stime
    # Linux ru_maxrss is in KiB
    return child.returncode, wall_s, int(usage.ru_maxrss) * 1024, cpu_s


def cache_paths(key: str, cache_dir: Path = CACHE_DIR) -> tuple[Path, Path]:
    return cache_dir / f"{key}.csv", cache_dir / f"{key}.json"


def run_scalesim(network: str, setup: ScaleSimSetup, *, layers: pd.DataFrame | None = None,
                 batch_size: int = 1, gemm: bool | None = None, rerun: bool = False,
                 cache_dir: Path = CACHE_DIR, work_dir: Path = WORK_DIR,
                 venv: Path = SCALESIM_VENV, verbose: bool = True) -> tuple[pd.DataFrame, dict]:
    """Per-layer SCALE-Sim figures and run facts for `network`, from the cache unless `rerun`.

    `layers` defaults to the zoo network's layer table; pass one to run a custom network (it
    is cached under `network` all the same, so give it a distinct name). `gemm` None picks the
    conv form at batch 1 and the GEMM form otherwise.
    """
    key = setup.key(network, batch_size)
    csv_path, json_path = cache_paths(key, cache_dir)
    if not rerun and csv_path.exists() and json_path.exists():
        return pd.read_csv(csv_path), json.loads(json_path.read_text())

    if layers is None:
        layers = network_layers(network)
    gemm = batch_size > 1 if gemm is None else gemm
    rows = topology_rows(layers, batch_size, gemm=gemm)
    python = ensure_scalesim_venv(venv, quiet=not verbose)

    run_dir = work_dir / key
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    topo_path, cfg_path, layout_path = (run_dir / "topology.csv", run_dir / "scale.cfg",
                                        run_dir / "layout.csv")
    topo_path.write_text(topology_csv(rows, gemm=gemm))
    cfg_path.write_text(config_cfg(setup, key))
    layout_path.write_text(LAYOUT_CSV)
    out_dir = run_dir / "out"

    if verbose:
        print(f"SCALE-Sim {key}: {len(rows)} layers ... (log: {run_dir / 'scalesim.log'})",
              file=sys.stderr, flush=True)
    load = os.getloadavg()[0]
    code, wall_s, peak_bytes, cpu_s = _run_child(
        python, [str(cfg_path), str(topo_path), str(layout_path), str(out_dir),
                 "1" if gemm else "0"], run_dir / "scalesim.log")
    if code != 0:
        tail = (run_dir / "scalesim.log").read_text()[-2000:]
        raise RuntimeError(f"SCALE-Sim failed (exit {code}) for {key}:\n{tail}")

    per_layer = parse_reports(out_dir / key, rows)
    per_layer.insert(2, "kind", per_layer["layer"].map(dict(zip(layers["name"], layers["kind"]))))
    per_layer.insert(2, "layer_id",
                     per_layer["layer"].map(dict(zip(layers["name"], layers["layer_id"]))))
    facts = RunFacts(
        network=network, dataflow=setup.dataflow, rows=setup.rows, cols=setup.cols,
        ifmap_sram_kb=setup.ifmap_sram_kb, filter_sram_kb=setup.filter_sram_kb,
        ofmap_sram_kb=setup.ofmap_sram_kb, batch_size=batch_size,
        topology_form="gemm" if gemm else "conv", layer_count=len(rows),
        wall_time_s=round(wall_s, 3), peak_memory_bytes=peak_bytes,
        scalesim_version=SCALESIM_VERSION, host=platform.node(), cpu_count=os.cpu_count() or 0,
        finished_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), cpu_time_s=round(cpu_s, 3),
        load_avg_1min=round(load, 2))
    cache_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(csv_path) as tmp:
        per_layer.to_csv(tmp, index=False)
    write_text_atomic(json_path, json.dumps(asdict(facts), indent=2) + "\n")
    if verbose:
        print(f"SCALE-Sim {key}: {wall_s:.1f} s, peak {peak_bytes / 2**30:.2f} GiB, "
              f"compute cycles {int(per_layer['compute_cycles'].sum()):,}", file=sys.stderr)
    return per_layer, asdict(facts)


# ---------------------------------------------------------------- checking the closed forms

# Small SCALE-Sim runs that exercise the closed forms beyond the zoo networks: non-square
# arrays (R != C tells R from C in every term), a 64 kB SRAM (os filter refetches) and odd
# shapes (partial folds, strides that leave padded rows unread).
PROBE_SETUPS = tuple(ScaleSimSetup(df, r, c, 64, 64, 64)
                     for df in ("ws", "os") for r, c in ((8, 16), (16, 8)))


def probe_layers(seed: int = 1, count: int = 24) -> pd.DataFrame:
    """A random mix of conv2d and linear layers (a layer table, no torch needed)."""
    import random

    from accelsim.trace.geometry import conv2d_layer, layer_table, linear_layer

    rng = random.Random(seed)
    rows = []
    while len(rows) < count:
        lid = len(rows)
        if rng.random() < 0.7:
            cin, cout = rng.choice([1, 3, 5, 16, 33, 64]), rng.choice([2, 7, 16, 31, 40, 70])
            k, s, p = rng.choice([1, 3, 5]), rng.choice([1, 2]), rng.choice([0, 1, 2])
            h = rng.choice([5, 9, 14, 20])
            if h + 2 * p < k:
                continue
            rows.append(conv2d_layer(lid, f"conv{lid}", (cin, h, h), cout, k, s, p))
        else:
            rows.append(linear_layer(lid, f"fc{lid}", rng.choice([3, 17, 64, 100, 257, 600]),
                                     rng.choice([1, 9, 33, 65]), True))
    return layer_table(rows)


def resnet_mid_layers() -> pd.DataFrame:
    """Three ResNet-18-sized convolutions (a stem, a 3x3 block conv, a strided 3x3) for
    checking the read-buffer replay at full layer size without a whole ResNet-18 run."""
    from accelsim.trace.geometry import conv2d_layer, layer_table

    return layer_table([conv2d_layer(0, "stem", (3, 112, 112), 64, 7, 2, 3),
                        conv2d_layer(1, "block", (128, 28, 28), 128, 3, 1, 1),
                        conv2d_layer(2, "down", (64, 28, 28), 96, 3, 2, 1)])


def strided_layers() -> pd.DataFrame:
    """Small layers of the shapes ResNet-18 lacks: an AlexNet-like 11x11 stride-4 stem,
    strides at or above the kernel (2x2/2, 1x1/2, 3x3/3: windows that do not overlap, some
    input never read), MobileNet-like pointwise convolutions, and a linear layer."""
    from accelsim.trace.geometry import conv2d_layer, layer_table, linear_layer

    return layer_table([conv2d_layer(0, "alex", (3, 63, 63), 16, 11, 4, 2),
                        conv2d_layer(1, "k2s2", (16, 15, 15), 24, 2, 2, 0),
                        conv2d_layer(2, "k1s2", (24, 7, 7), 32, 1, 2, 0),
                        conv2d_layer(3, "k3s3", (32, 9, 9), 16, 3, 3, 0),
                        conv2d_layer(4, "point", (16, 12, 12), 48, 1, 1, 0),
                        conv2d_layer(5, "k3s1", (48, 8, 8), 32, 3, 1, 1),
                        linear_layer(6, "fc", 2048, 10, True)])


# custom layer tables the runner can run and the comparisons can read back
CUSTOM_NETWORKS = {"probe": probe_layers, "resnet-mid": resnet_mid_layers,
                   "strided": strided_layers}


def check_closed_forms(results: list[tuple[str, ScaleSimSetup, pd.DataFrame, pd.DataFrame]]
                       ) -> pd.DataFrame:
    """Max |SCALE-Sim - closed form| per run and figure; `results` holds
    (network, setup, layers, SCALE-Sim per-layer figures)."""
    rows = []
    for network, setup, layers, measured in results:
        errors = closed_form_errors(measured, closed_form_figures(layers, setup))
        row = {"network": network, "dataflow": setup.dataflow,
               "array": f"{setup.rows}x{setup.cols}", "sram_kb": setup.filter_sram_kb,
               "layers": len(errors)}
        for col in CLOSED_FORM_COLUMNS:
            row[f"max_abs_error_{col}"] = int(errors[col].abs().max())
        rows.append(row)
    return pd.DataFrame(rows)


def verify(networks=("lenet-5", "lenet-300-100", "resnet18"), *, run_probes: bool = True,
           rerun: bool = False, cache_dir: Path = CACHE_DIR) -> pd.DataFrame:
    """Check the closed forms against every cached zoo result and the probe runs; write
    reports/validation/scalesim_closed_forms.csv."""
    results = []
    for network in networks:
        layers = None
        for dataflow in ("ws", "os"):
            setup = ScaleSimSetup(dataflow)
            csv_path, json_path = cache_paths(setup.key(network), cache_dir)
            if not (csv_path.exists() and json_path.exists()):
                continue  # not run yet: a ResNet-18 run takes minutes, run it on purpose
            layers = network_layers(network) if layers is None else layers
            measured, _ = run_scalesim(network, setup, cache_dir=cache_dir)
            results.append((network, setup, layers, measured))
    if run_probes:
        layers = probe_layers()
        for setup in PROBE_SETUPS:
            measured, _ = run_scalesim("probe", setup, layers=layers, rerun=rerun,
                                       cache_dir=cache_dir, verbose=False)
            results.append(("probe", setup, layers, measured))
    table = check_closed_forms(results)
    with atomic_path(cache_dir.parent / "scalesim_closed_forms.csv") as tmp:
        table.to_csv(tmp, index=False)
    write_closed_forms_note(table, cache_dir.parent / "scalesim_closed_forms.md")
    return table


def write_closed_forms_note(table: pd.DataFrame, path: Path) -> Path:
    """The closed forms in words and the largest error of each over every checked run."""
    header = ["network", "dataflow", "array", "SRAM kB", "layers"] + [
        c.replace("_words", "") for c in CLOSED_FORM_COLUMNS]
    rows = [[str(r["network"]), str(r["dataflow"]), str(r["array"]), str(r["sram_kb"]),
             str(r["layers"])] + [str(r[f"max_abs_error_{c}"]) for c in CLOSED_FORM_COLUMNS]
            for _, r in table.iterrows()]
    lines = [
        f"# SCALE-Sim {SCALESIM_VERSION}: closed forms of its per-layer figures",
        "",
        "Written by `benchmarks/scalesim_runner.py --verify` from the cached runs in "
        "`reports/validation/scalesim/` (CALC bandwidth mode: stall-free). GEMM per layer: "
        "M = output positions x batch, N = output channels, K = window x input channels "
        "(the trace's fwd_m, fwd_n, fwd_k); R x C array; counts in words (1 byte).",
        "",
        "| figure | ws | os |",
        "|---|---|---|",
        "| compute cycles (\"Total Cycles\") | ceil(K/R)·ceil(N/C)·(2R + C + M − 2) − 1 | "
        "ceil(M/R)·ceil(N/C)·(R + C + K − 2) − 1 |",
        "| filter SRAM reads | K·N | K·N·ceil(M/R) |",
        "| filter DRAM reads | K·N | K·N, plus the block refetch below |",
        "| ifmap SRAM reads | M·K·ceil(N/C) | M·K·ceil(N/C) |",
        "| ofmap SRAM writes | M·N·ceil(K/R) | M·N + ceil(M/R)·ceil(N/C)·(R + C) |",
        "| ofmap DRAM writes | M·N·ceil(K/R), + 0 or C − 1 | M·N, + 0 or C − 1 |",
        "",
        "The −1: SCALE-Sim reports the index of the last cycle, counted from 0. Every fold "
        "costs the full R and C whatever its fill.",
        "",
        "os filter DRAM block refetch: the read buffer counts distinct addresses in blocks of "
        "B = 50·floor(SRAM words/100) (262,100 for 512 kB); a full block is swapped out whole. "
        "Column folds j = 0.. of W_j = K·min(C, N − jC) weights are read ceil(M/R) times each, "
        "in order. With f the words in the current block (start 0): if f + W_j < B, then "
        "f += W_j and the fold costs W_j; otherwise it costs W_j + (B − f) when ceil(M/R) ≥ 2 "
        "(its part before the swap is fetched again by the second row fold) and f = W_j, or "
        "W_j and f = f + W_j − B when ceil(M/R) = 1.",
        "",
        "Topology: conv layers as convolutions over the part of the padded input the windows "
        "cover, (out − 1)·stride + kernel per side (SCALE-Sim sizes outputs as "
        "ceil((H − k + s)/s)); linear layers as 1×1 convolutions on a batch×1 image.",
        "",
        "## Largest |SCALE-Sim − closed form| per layer",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *["| " + " | ".join(r) + " |" for r in rows],
        "",
        "`probe`: 24 random conv/linear layers (`probe_layers()`), on 8×16 and 16×8 arrays with "
        "64 kB SRAMs, so that R ≠ C and the os block refetch occurs.",
        "",
    ]
    write_text_atomic(path, "\n".join(lines))
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--network", action="append",
                        help="zoo network (repeatable; default resnet18)")
    parser.add_argument("--dataflow", nargs="+", default=["ws", "os"], choices=DATAFLOWS)
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--cols", type=int, default=32)
    parser.add_argument("--sram-kb", type=int, default=512,
                        help="size of each of the three SRAMs in kB (= k words)")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--gemm", action="store_true", help="write the GEMM topology form")
    parser.add_argument("--rerun", action="store_true", help="ignore the cached result")
    parser.add_argument("--custom", choices=sorted(CUSTOM_NETWORKS),
                        help="run a custom layer table (CUSTOM_NETWORKS) instead of --network")
    parser.add_argument("--verify", action="store_true",
                        help="check the closed forms against the cached results and small "
                             "probe runs (run now), instead of running --network")
    args = parser.parse_args(argv)
    if args.verify:
        table = verify(rerun=args.rerun)
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(table.to_string(index=False))
        return 0
    for network in [args.custom] if args.custom else args.network or ["resnet18"]:
        for dataflow in args.dataflow:
            setup = ScaleSimSetup(dataflow, args.rows, args.cols, args.sram_kb, args.sram_kb,
                                  args.sram_kb)
            per_layer, facts = run_scalesim(network, setup, batch_size=args.batch_size,
                                            layers=(CUSTOM_NETWORKS[args.custom]()
                                                    if args.custom else None),
                                            gemm=args.gemm or None, rerun=args.rerun)
            print(f"{setup.key(network, args.batch_size)}: "
                  f"compute cycles {int(per_layer['compute_cycles'].sum()):,}, "
                  f"filter SRAM reads {int(per_layer['filter_sram_reads_words'].sum()):,}, "
                  f"filter DRAM reads {int(per_layer['filter_dram_reads_words'].sum()):,} words, "
                  f"{facts['wall_time_s']:.1f} s, "
                  f"peak {facts['peak_memory_bytes'] / 2**30:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
