"""Hostile input through the real CLI: seeded bad inputs of every kind a user can hand accelsim
(accelerator YAML, --set, trace folders, sparse checkpoints, dataset files, resume.pt, every
flag, damaged result folders), each run in-process through `accelsim.cli.main` under a timeout.

    python benchmarks/fuzz_cli.py [--cases 2600] [--seed 0] [--timeout 30]

Every case ends in one class: refused (exit 2, one `accelsim: error:` line), accepted (exit 0),
traceback (anything escaped, exit 70, or a traceback on stderr), unclear (exit 2 but not one
error line), hang (over the timeout), code_execution (a pickle's marker file appeared),
half_written (a temporary file left behind), lost (a file the case's check says must survive
was changed or removed: a user's folder under --out, the old output on a full disk). Prints
the counts per kind and class and writes benchmarks/results/fuzz_cli.csv (one row per case).
Goal: 0 tracebacks, hangs, code executions, unclear messages, half-written files and lost
files; accepted only where a case allows it.
tests/test_fuzz_*.py run a slice of the same cases in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import hashlib
import io
import json
import os
import pickle
import random
import re
import shutil
import signal
import struct
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ClassVar

import yaml

RESULTS = Path(__file__).resolve().parent / "results"
TEMP_NAME = re.compile(r"\.accelsim-(tmp|new|old)\.\d+\.")  # accelsim.io's temporaries
MARKER = "PWNED"
KINDS = ("config", "set", "trace", "checkpoint", "dataset", "resume", "flags", "results",
         "output")
CLASSES = ("refused", "accepted", "traceback", "unclear", "hang", "code_execution",
           "half_written", "lost")
BAD = ("traceback", "unclear", "hang", "code_execution", "half_written", "lost")

# values a hostile user types: huge, negative, not-a-number, wrong type, deep
HOSTILE = [10 ** 400, -(10 ** 400), 2 ** 63, 2 ** 64, -1, 0, 1.5, 1e308, -1e308, float("nan"),
           float("inf"), "abc", "", [], {}, None, True, [1, 2], {"a": 1}, "1e999", 2 ** 31,
           -(2 ** 63), 10 ** 30]
HOSTILE_TEXT = ["-1", "0", "18446744073709551616", "1e999", "nan", "inf", "-inf", "abc", "1.5",
                "9" * 5000, "", "-0", "0x10", "1e400", "99999999999999999999999"]


@dataclass
class Case:
    kind: str
    mutation: str
    argv: list  # strings; "{W}" is the case's own folder
    setup: Callable | None = None  # setup(workdir, fixtures) writes the hostile input
    allow_accept: bool = True  # False: the input is bad, so it must be refused
    timeout_s: float = 30.0
    verify: Callable | None = None  # verify(workdir) -> None, or what was lost
    env: dict = field(default_factory=dict)  # environment set while the case runs
    ci: bool = True  # False: the benchmark runs it, the CI slice (tests/test_fuzz_*) does not


@dataclass
class Outcome:
    case: Case
    cls: str
    exit_code: int | None
    stderr: str
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


# ============================================================================ fixtures
class Fixtures:
    """The valid inputs the cases start from, each made in `root` the first time it is asked
    for (a test file of one kind builds only what its cases need)."""

    train_argv: ClassVar[list] = ["train", "--epochs", "1", "--budget", "5000",
                                  "--batch-size", "128", "--trace-every", "1000"]
    resume_argv: ClassVar[list] = ["train", "--epochs", "2", "--budget", "5000",
                                   "--batch-size", "128", "--no-trace"]

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        from accelsim.config.loader import CONFIG_DIR

        self.config = yaml.safe_load((CONFIG_DIR / "default.yaml").read_text())

    @staticmethod
    def _cli(argv):
        from accelsim.cli import main

        _must(main([*argv, "--quiet"]))

    @cached_property
    def trace(self) -> Path:
        self._cli(["trace", "--model", "lenet-300-100", "--synthetic", "--budget", "2000",
                   "--model-arg", "in_features=64", "--out", str(self.root / "trace")])
        return self.root / "trace"

    @cached_property
    def sim(self) -> Path:
        self._cli(["simulate", str(self.trace), "--out", str(self.root / "trace-sim")])
        return self.root / "trace-sim"

    @cached_property
    def sweep(self) -> Path:
        self._cli(["sweep", str(self.trace), "--sram-sizes", "64KiB,128KiB", "--jobs", "1",
                   "--out", str(self.root / "trace-sweep")])
        return self.root / "trace-sweep"

    @cached_property
    def run(self) -> Path:
        self._cli([*self.train_argv, "--out", str(self.root / "run")])
        return self.root / "run"

    @property
    def checkpoint(self) -> Path:
        return self.run / "checkpoint.sparse"

    @cached_property
    def resume_run(self) -> Path:
        from accelsim.train.loop import TrainConfig, train

        class Stop(Exception):
            pass

        def stop(epoch, row):
            raise Stop

        out = self.root / "resume-run"
        config = TrainConfig(epochs=2, budget=5000, batch_size=128, trace=False, lr=0.1)
        with contextlib.suppress(Stop):
            train(config, out, quiet=True, on_epoch_end=stop)
        assert (out / "resume.pt").exists()
        return out

    study_argv: ClassVar[list] = ["study", "--budgets", "dense,10x", "--seeds", "0", "--methods",
                                  "dropback", "--epochs", "1", "--batch-sizes", "1",
                                  "--sram-sizes", "64KiB", "--jobs", "1"]

    @cached_property
    def study(self) -> Path:
        self._cli([*self.study_argv, "--out", str(self.root / "study")])
        return self.root / "study"

    @cached_property
    def mnist(self) -> Path:
        _write_mnist(self.root / "mnist")
        return self.root / "mnist"

    @cached_property
    def cifar(self) -> Path:
        _write_cifar(self.root / "cifar")
        return self.root / "cifar"


def _must(code):
    if code != 0:
        raise RuntimeError(f"fixture command failed with {code}")


def _idx(shape, data: bytes, type_code=0x08) -> bytes:
    return bytes([0, 0, type_code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + data


MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte")


def _write_mnist(folder: Path, n_train=40, n_test=20, height=28, width=28):
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    for name, n in (("train", n_train), ("t10k", n_test)):
        pixels = bytes(rng.randrange(256) for _ in range(n * height * width))
        labels = bytes(i % 10 for i in range(n))
        (folder / f"{name}-images-idx3-ubyte").write_bytes(_idx((n, height, width), pixels))
        (folder / f"{name}-labels-idx1-ubyte").write_bytes(_idx((n,), labels))


def _write_cifar(folder: Path, n=20):
    import numpy as np

    folder = folder / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"labels": [i % 10 for i in range(n)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))


# ============================================================================ hostile files
class _Touch:
    """A pickle that, if ever unpickled by an unsafe loader, creates the marker file."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def evil_pickle(marker: Path) -> bytes:
    return pickle.dumps({b"data": _Touch(marker), "epoch": _Touch(marker)}, protocol=2)


def evil_torch_save(marker: Path) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save({"epoch": _Touch(marker), "history": []}, buffer)
    return buffer.getvalue()


def fifo(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    os.mkfifo(path)


def flip_bits(data: bytes, rng: random.Random, flips: int, start: int = 0) -> bytes:
    out = bytearray(data)
    for _ in range(flips):
        i = rng.randrange(start, len(out))
        out[i] ^= 1 << rng.randrange(8)
        note(f"bit flip at byte {i} of {len(out)}")
    return bytes(out)


def leaf_paths(obj, prefix=()):
    """Every path to a value in nested dicts/lists."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaf_paths(v, (*prefix, k))
    elif isinstance(obj, list) and obj:
        for i, v in enumerate(obj):
            yield from leaf_paths(v, (*prefix, i))
    yield prefix


_DETAIL: list = []  # what the running case's setup changed, for the CSV


def note(text) -> None:
    _DETAIL.append(str(text)[:120])


def set_path(obj, path, value):
    note(f"{'.'.join(map(str, path))}={value!r}")
    if not path:
        return value
    node = obj
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return obj


def delete_path(obj, path):
    note(f"deleted {'.'.join(map(str, path))}")
    node = obj
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return obj


def yaml_dump(obj) -> str:
    # PyYAML cannot write 10**400 as a plain int in a way safe_load reads back as an int: it
    # can, but only via its repr; keep ints as written
    return yaml.safe_dump(obj, sort_keys=False, width=10 ** 6)


def json_safe(value):
    """A hostile value as JSON allows it (nan and inf are JSON extensions Python writes)."""
    return value


# ---------------------------------------------------------------------------- traces
def rewrite_table(trace: Path, name: str, change):
    """Change a trace table with `change(frame)`, write it with the format's own writer and
    recompute the manifest's checksum, so only the value checks can catch it."""
    import pyarrow as pa

    from accelsim.trace import format as fmt

    schema = {fmt.LAYERS_FILE: fmt.LAYERS_SCHEMA, fmt.STEPS_FILE: fmt.STEPS_SCHEMA,
              fmt.SNAPSHOTS_FILE: fmt.SNAPSHOTS_SCHEMA}[name]
    frame = fmt._read_parquet((trace / name).read_bytes(), schema, trace / name)
    try:
        change(frame)
        data = fmt._parquet_bytes(frame, schema)
    except (pa.ArrowException, OverflowError, ValueError, TypeError):
        return False  # the value does not fit the column type: nothing to write
    write_rehashed(trace, name, data)
    return True


def write_rehashed(trace: Path, name: str, data: bytes):
    (trace / name).write_bytes(data)
    manifest = json.loads((trace / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256(data).hexdigest()
    (trace / "manifest.json").write_text(json.dumps(manifest))


# ---------------------------------------------------------------------------- checkpoints
def rewrite_checkpoint(path: Path, change, total_delta: int = 0):
    """Edit a checkpoint's header JSON with `change(header)` and re-hash, so the file passes
    the size, magic and checksum checks and only the header checks can catch it."""
    from accelsim.dropback import checkpoint as ck

    data = path.read_bytes()
    _, _, header_size, _ = ck._PREFIX.unpack_from(data)
    header = json.loads(data[ck.PREFIX_BYTES:ck.PREFIX_BYTES + header_size])
    payload = data[ck.PREFIX_BYTES + header_size:]
    header = change(header) or header
    header_bytes = json.dumps(header, sort_keys=True).encode()
    header_bytes += b" " * ((-len(header_bytes)) % ck.ALIGN_BYTES)
    body = header_bytes + payload
    lengths = ck._PREFIX.pack(ck.MAGIC, ck.PREFIX_BYTES + len(body) + total_delta,
                              len(header_bytes), b"\0" * 32)[:32]
    path.write_bytes(lengths + hashlib.sha256(lengths + body).digest() + body)


# ============================================================================ case makers
def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst) if src.is_dir() else shutil.copy(src, dst)
    return dst


def config_cases(rng: random.Random, fx_config: dict, n: int) -> list[Case]:
    sim = ["simulate", "{F}/trace", "--accelerator", "{W}/accel.yaml", "--out", "{W}/out",
           "--quiet"]
    cases = []

    def text_case(mutation, text, allow=False, binary=None):
        def setup(w, fx, text=text, binary=binary):
            (w / "accel.yaml").write_bytes(binary if binary is not None else text.encode())
        cases.append(Case("config", mutation, sim, setup, allow))

    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}]\n" for i in range(9))
    text_case("alias_bomb", bomb)
    text_case("alias_bomb_in_field", yaml_dump(fx_config) + bomb.replace("a:", "zz:", 1))
    text_case("recursive_alias", "pe: &p {rows: *p}\n")
    for depth in (40, 1000, 100_000):
        text_case(f"deep_list_{depth}", "x: " + "[" * depth + "]" * depth + "\n")
        text_case(f"deep_map_{depth}", "x: " + "{a: " * depth + "1" + "}" * depth + "\n")
    text_case("non_utf8", "", binary=yaml_dump(fx_config).encode() + b"\xff\xfe\x80")
    text_case("nul_char", yaml_dump(fx_config) + "name: \x00\n")
    text_case("empty", "")
    text_case("list_top", "- 1\n- 2\n")
    text_case("scalar_top", "42\n")
    text_case("garbage", "", binary=bytes(rng.randrange(256) for _ in range(300)))
    text_case("huge_file", "# " + "x" * (2 << 20) + "\n" + yaml_dump(fx_config))
    text_case("tab_indent", "pe:\n\trows: 1\n")
    text_case("unknown_key", yaml_dump({**fx_config, "bogus_field": 1}))
    text_case("index_bits_null", yaml_dump({**fx_config, "index": {"format": "bitmap",
                                                                    "index_bits": None}}))
    text_case("python_tag", "name: !!python/object/apply:os.system ['touch PWNED']\n")

    def base_chain(length, cycle=False):
        def setup(w, fx):
            for i in range(length):
                target = (i + 1) % length if cycle else i + 1
                base = f"base: c{target}\n" if (cycle or i + 1 < length) else "base: default\n"
                (w / f"c{i}.yaml").write_text(base + "clock_mhz: 500\n")
            (w / "accel.yaml").write_text("base: c0\n")
        return setup

    for length in (40, 1000):
        cases.append(Case("config", f"base_chain_{length}", sim, base_chain(length), False))
    cases.append(Case("config", "base_cycle", sim, base_chain(5, cycle=True), False))
    cases.append(Case("config", "fifo_as_config", sim,
                      lambda w, fx: fifo(w / "accel.yaml"), False, timeout_s=10))
    cases.append(Case("config", "folder_as_config", sim,
                      lambda w, fx: (w / "accel.yaml").mkdir(), False))

    # keys no field is called: YAML allows null, booleans and numbers, mixed in one mapping
    for label, text in (("null_key", "~: 1\n"), ("bool_key", "pe: {true: 3}\n"),
                        ("int_key_mixed", "pe: {1: 3, rows: 4}\n"),
                        ("bool_key_mixed", "update: {true: 1, x: 2}\n"),
                        ("int_key_in_sources", "sources: {1: a, b: c}\n")):
        text_case(label, "base: default\n" + text)
    paths = [p for p in leaf_paths(fx_config) if p]
    # subnormal and extreme floats in the float fields: refused outside the field's range in
    # one line, never a NaN downstream (clock_mhz 5e-324 once ended in one inside SimPy)
    floats = [("clock_mhz",), ("dram", "tck_ns"), ("pe", "mac_energy_pj"),
              ("prng", "energy_pj_per_value")]
    extremes = [(path, value, allow) for path in floats for value, allow in
                ((5e-324, False), (-5e-324, False), (1e-300, False), (1e-9, True),
                 (1e15, True), (1.5e15, False))]
    for path, value, allow in extremes:
        def setup(w, fx, path=path, value=value):
            data = set_path(copy.deepcopy(fx.config), path, value)
            (w / "accel.yaml").write_text(yaml_dump(data))
        cases.append(Case("config", f"float_{value:g}", sim, setup, allow))
    while len(cases) < n:
        path = rng.choice(paths)
        if rng.random() < 0.15:
            def setup(w, fx, path=path):
                data = copy.deepcopy(fx.config)
                delete_path(data, path)
                (w / "accel.yaml").write_text(yaml_dump(data))
            cases.append(Case("config", "delete_key", sim, setup, True))
            continue
        value = rng.choice(HOSTILE)

        def setup(w, fx, path=path, value=value):
            data = set_path(copy.deepcopy(fx.config), path, value)
            (w / "accel.yaml").write_text(yaml_dump(data))
        cases.append(Case("config", f"field_{type(value).__name__}", sim, setup, True))
    return cases


SET_FIELDS = ["pe.rows", "pe.cols", "pe.dataflow", "clock_mhz", "weight_bits",
              "weight_sram.capacity_bytes", "weight_sram.banks", "activation_sram.capacity_bytes",
              "dram.preset", "dram.channels", "dram.tck_ns", "prng.lanes", "index.format",
              "index.index_bits", "tile_weights", "buffer_depth_tiles", "dram_sample_bursts",
              "update.alu_lanes", "pe.mac_energy_pj", "dram_timing", "bogus", "pe.rows.x",
              "a" + ".a" * 200, "pe..rows", ".pe", "pe."]
SET_VALUES = HOSTILE_TEXT + ["[" * 10000 + "]" * 10000, "{}", "null", "true", "1MiB", "1e400KiB",
                             "9" * 400 + "GiB", "0.5", "[1,2]", '{"a":1}', "HBM2", "1.5KiB",
                             "NaN", "Infinity", "-Infinity", "4096"]


def set_cases(rng: random.Random, n: int) -> list[Case]:
    cases = []
    for _ in range(n):
        key, value = rng.choice(SET_FIELDS), rng.choice(SET_VALUES)
        if rng.random() < 0.3:
            values = ",".join(rng.choice(SET_VALUES) for _ in range(rng.randrange(2, 4)))
            argv = ["sweep", "{F}/trace", "--set", f"{key}={values}", "--jobs", "1",
                    "--out", "{W}/out", "--quiet"]
            cases.append(Case("set", "sweep_set", argv, None, True))
        else:
            form = rng.choice(["kv", "kv", "kv", "no_equals", "empty_key", "twice"])
            item = {"kv": f"{key}={value}", "no_equals": key, "empty_key": f"={value}",
                    "twice": f"{key}={value}"}[form]
            argv = ["simulate", "{F}/trace", "--set", item, "--out", "{W}/out", "--quiet"]
            if form == "twice":
                argv[3:3] = ["--set", f"{key}=1"]
            cases.append(Case("set", f"simulate_set_{form}", argv, None,
                              form in ("kv",)))
    return cases


def trace_cases(rng: random.Random, n: int) -> list[Case]:
    from accelsim.trace import format as fmt

    sim = ["simulate", "{W}/t", "--out", "{W}/out", "--quiet"]
    cases = []

    def add(mutation, change, allow=True, argv=sim, timeout_s=30.0):
        def setup(w, fx, change=change):
            _copy(fx.trace, w / "t")
            change(w / "t")
        cases.append(Case("trace", mutation, argv, setup, allow, timeout_s))

    def manifest_edit(fn):
        def change(t):
            m = json.loads((t / "manifest.json").read_text())
            fn(m)
            (t / "manifest.json").write_text(json.dumps(m))
        return change

    add("format_version_negative", manifest_edit(lambda m: m.update(format_version=-1)), False)
    add("format_version_zero", manifest_edit(lambda m: m.update(format_version=0)), False)
    add("iterations_huge", manifest_edit(lambda m: m.update(iterations=10 ** 30)), False)
    add("manifest_deep", lambda t: (t / "manifest.json").write_text("[" * 100000), False)
    add("manifest_not_utf8", lambda t: (t / "manifest.json").write_bytes(b"\xff\xfe{}"), False)
    add("manifest_fifo", lambda t: fifo(t / "manifest.json"), False, timeout_s=10)
    add("manifest_folder", lambda t: (t / "manifest.json").unlink() or
        (t / "manifest.json").mkdir(), False)
    for name in fmt.DATA_FILES:
        add(f"fifo_{name}", lambda t, name=name: fifo(t / name), False, timeout_s=10)
        add(f"missing_{name}", lambda t, name=name: (t / name).unlink(), False)
        add(f"truncated_{name}", lambda t, name=name: write_rehashed(
            t, name, (t / name).read_bytes()[:50]), False)
    add("trace_is_fifo", lambda t: fifo(t), False, timeout_s=10)

    def duplicate_exec_order(f):
        f.loc[1, "exec_order"] = f.loc[0, "exec_order"]

    add("exec_order_duplicate",
        lambda t: rewrite_table(t, fmt.LAYERS_FILE, duplicate_exec_order), False)
    for col in ("in_activation_count", "out_activation_count"):
        for v in (0, -5):
            add(f"{col}_{v}", lambda t, col=col, v=v: rewrite_table(
                t, fmt.LAYERS_FILE, lambda f: f.__setitem__(col, v)), False)
    manifest_keys = list(fmt._MANIFEST_TYPES)
    tables = {fmt.LAYERS_FILE: fmt.LAYERS_SCHEMA, fmt.STEPS_FILE: fmt.STEPS_SCHEMA,
              fmt.SNAPSHOTS_FILE: fmt.SNAPSHOTS_SCHEMA}
    cell_values = [-1, 0, 1, 2 ** 31 - 1, 2 ** 62, -(2 ** 63), 7, 10 ** 9]
    while len(cases) < n:
        r = rng.random()
        if r < 0.3:
            key, value = rng.choice(manifest_keys), rng.choice(HOSTILE)
            add(f"manifest_{type(value).__name__}", manifest_edit(
                lambda m, key=key, value=value: set_path(m, (key,), value)))
        elif r < 0.7:
            name = rng.choice(list(tables))
            col = rng.choice([c for c in tables[name].names
                              if str(tables[name].field(c).type).startswith("int")])
            value, row = rng.choice(cell_values), rng.randrange(3)

            def change(f, col=col, value=value, row=row):
                note(f"{col}[{row % len(f)}]: {f.loc[row % len(f), col]!r} -> {value!r}")
                f.loc[row % len(f), col] = value
            add(f"cell_{name.split('.')[0]}", lambda t, name=name, change=change: rewrite_table(
                t, name, change))
        else:
            name, flips, seed = rng.choice(list(tables)), rng.randrange(1, 8), rng.randrange(9999)
            add(f"bitflip_rehashed_{name.split('.')[0]}", lambda t, name=name, flips=flips,
                seed=seed: write_rehashed(t, name, flip_bits((t / name).read_bytes(),
                                                             random.Random(seed), flips, 4)))
    return cases


def checkpoint_cases(rng: random.Random, n: int) -> list[Case]:
    cases = []
    argvs = [["simulate", "--checkpoint", "{W}/c.sparse", "--out", "{W}/out", "--quiet"],
             ["trace", "--checkpoint", "{W}/c.sparse", "--out", "{W}/out", "--quiet"]]

    def add(mutation, change, allow=True, timeout_s=30.0):
        def setup(w, fx, change=change):
            shutil.copy(fx.checkpoint, w / "c.sparse")
            change(w / "c.sparse")
        cases.append(Case("checkpoint", mutation, rng.choice(argvs), setup, allow, timeout_s))

    add("fifo", fifo, False, timeout_s=10)
    add("folder", lambda p: p.unlink() or p.mkdir(), False)
    add("empty", lambda p: p.write_bytes(b""), False)
    add("truncated", lambda p: p.write_bytes(p.read_bytes()[:-9]), False)
    add("trailing_bytes", lambda p: p.write_bytes(p.read_bytes() + b"x"), False)
    add("pickle", lambda p: p.write_bytes(evil_pickle(p.parent / MARKER)), False)
    add("deep_header", lambda p: rewrite_checkpoint(p, lambda h: {"format": "accelsim-checkpoint",
                                                                  "x": [[[[[[]]]]]] * 3}), False)

    def overlap(h):
        names = sorted(h["arrays"])
        h["arrays"][names[1]]["offset"] = h["arrays"][names[0]]["offset"]
    add("overlapping_offsets", lambda p: rewrite_checkpoint(p, overlap), False)
    add("format_version_negative",
        lambda p: rewrite_checkpoint(p, lambda h: h.update(format_version=-1)), False)
    add("total_size_edited", lambda p: rewrite_checkpoint(p, lambda h: None, total_delta=8),
        False)
    while len(cases) < n:
        r = rng.random()
        if r < 0.75:
            value, pick = rng.choice(HOSTILE), rng.random()

            def change(h, value=value, pick=pick):
                paths = [q for q in leaf_paths(h) if q]
                path = paths[int(pick * len(paths))]
                set_path(h, path, value)
            add(f"header_{type(value).__name__}",
                lambda p, change=change: rewrite_checkpoint(p, change))
        elif r < 0.85:
            pick = rng.random()

            def drop(h, pick=pick):
                paths = [q for q in leaf_paths(h) if q]
                delete_path(h, paths[int(pick * len(paths))])
            add("header_key_deleted", lambda p, drop=drop: rewrite_checkpoint(p, drop))
        else:
            flips, seed = rng.randrange(1, 6), rng.randrange(9999)
            add("bitflip", lambda p, flips=flips, seed=seed: p.write_bytes(
                flip_bits(p.read_bytes(), random.Random(seed), flips)), False)
    return cases


def _dataset_setup(src: str, change):
    def setup(w, fx):
        _copy(getattr(fx, src), w / "d")
        change(w / "d")
    return setup


def dataset_cases(rng: random.Random, n: int) -> list[Case]:
    mnist = ["train", "--dataset", "mnist", "--data-dir", "{W}/d", "--epochs", "1", "--no-trace",
             "--batch-size", "64", "--out", "{W}/out", "--quiet"]
    cifar = ["train", "--dataset", "cifar10", "--data-dir", "{W}/d", "--model", "lenet-5",
             "--epochs", "1", "--no-trace", "--batch-size", "64", "--out", "{W}/out", "--quiet"]
    cases = []

    def add(mutation, argv, change, allow=False, timeout_s=60.0):
        src = "mnist" if argv is mnist else "cifar"
        cases.append(Case("dataset", mutation, argv, _dataset_setup(src, change), allow,
                          timeout_s))

    batches = "cifar-10-batches-py"
    add("cifar_pickle_code", cifar, lambda d: (d / batches / "data_batch_1").write_bytes(
        evil_pickle(d.parent / MARKER)))
    add("cifar_fifo", cifar, lambda d: fifo(d / batches / "test_batch"), timeout_s=10)
    add("cifar_not_dict", cifar, lambda d: (d / batches / "test_batch").write_bytes(
        pickle.dumps([1, 2, 3])))
    add("cifar_garbage", cifar, lambda d: (d / batches / "test_batch").write_bytes(b"\x80\x04x"))
    add("cifar_wrong_shape", cifar, lambda d: (d / batches / "test_batch").write_bytes(
        pickle.dumps({b"data": b"xx", b"labels": [1]})))
    add("cifar_labels_out_of_range", cifar, lambda d: (d / batches / "test_batch").write_bytes(
        pickle.dumps({b"data": bytes(3072), b"labels": [99]})))
    add("mnist_fifo", mnist, lambda d: fifo(d / MNIST_FILES[0]), timeout_s=10)
    # splits with no images, images of no pixels, and images of a size the model does not take
    lenet5 = [*mnist[:-3], "--model", "lenet-5", *mnist[-3:]]
    for label, argv, allow, shape in (
            ("idx_no_train_images", mnist, False, {"n_train": 0}),
            ("idx_no_test_images", mnist, False, {"n_test": 0}),
            ("idx_zero_width", mnist, False, {"width": 0}),
            ("idx_28x20_lenet5", lenet5, False, {"width": 20}),
            ("idx_20x28_lenet5", lenet5, False, {"height": 20}),
            ("idx_28x20_lenet300", mnist, True, {"width": 20})):
        def change(d, shape=shape):
            shutil.rmtree(d)
            _write_mnist(d, **shape)
        cases.append(Case("dataset", label, argv, _dataset_setup("mnist", change), allow, 60))
    while len(cases) < n:
        name = rng.choice(MNIST_FILES)
        r = rng.random()
        if r < 0.5:  # header fields: magic, type code, ndim, dims
            offset = rng.choice([0, 1, 2, 3, 4, 5, 7, 8, 11])
            value = rng.choice([0, 1, 3, 0x0D, 0xFF, 0x7F])

            def change(d, name=name, offset=offset, value=value):
                data = bytearray((d / name).read_bytes())
                note(f"{name} byte {offset}: {data[offset]} -> {value}")
                data[offset] = value
                (d / name).write_bytes(bytes(data))
            add(f"idx_header_byte_{offset}", mnist, change, allow=True)
        elif r < 0.7:
            dims = rng.choice([(2 ** 32 - 1, 28, 28), (40, 2 ** 31, 2 ** 31), (0, 28, 28),
                               (40, 0, 28), (40, 28, 29)])
            body = rng.choice([b"", bytes(100)])

            def change(d, name=name, dims=dims, body=body):
                shape = dims if "images" in name else dims[:1]
                (d / name).write_bytes(_idx(shape, body))
            add("idx_dims", mnist, change)
        elif r < 0.85:
            cut = rng.randrange(0, 20)
            add("idx_truncated", mnist, lambda d, name=name, cut=cut: (d / name).write_bytes(
                (d / name).read_bytes()[:cut]))
        else:
            add("idx_gz_garbage", mnist, lambda d, name=name: ((d / name).unlink(), (
                d / f"{name}.gz").write_bytes(b"\x1f\x8b" + bytes(40))))
    return cases


def resume_cases(rng: random.Random, n: int) -> list[Case]:
    import torch

    cases = []

    def add(mutation, change, timeout_s=30.0):
        def setup(w, fx, change=change):
            _copy(fx.resume_run, w / "run")
            change(w / "run" / "resume.pt")
        argv = ["{RESUME}", "--out", "{W}/run", "--resume", "--quiet"]
        cases.append(Case("resume", mutation, argv, setup, False, timeout_s))

    def save(obj):
        def change(p):
            buffer = io.BytesIO()
            torch.save(obj, buffer)
            p.write_bytes(buffer.getvalue())
        return change

    add("torch_save_code", lambda p: p.write_bytes(evil_torch_save(p.parent.parent / MARKER)))
    add("plain_pickle_code", lambda p: p.write_bytes(evil_pickle(p.parent.parent / MARKER)))
    add("fifo", fifo, timeout_s=10)
    add("folder", lambda p: p.unlink() or p.mkdir())
    add("empty", lambda p: p.write_bytes(b""))
    for obj in ([1, 2], None, "text", {"epoch": 1}, {}, torch.zeros(3)):
        add(f"torch_save_{type(obj).__name__}", save(obj))
    while len(cases) < n:
        cut = rng.random()
        if rng.random() < 0.5:
            add("truncated", lambda p, cut=cut: p.write_bytes(
                p.read_bytes()[:int(len(p.read_bytes()) * cut)]))
        else:
            flips, seed = rng.randrange(1, 20), rng.randrange(9999)
            add("bitflip", lambda p, flips=flips, seed=seed: p.write_bytes(
                flip_bits(p.read_bytes(), random.Random(seed), flips, 0)))
    # a bit flip may land in a float of the saved state and be a legitimate (other) state
    for case in cases:
        case.allow_accept = case.mutation in ("bitflip",)
    return cases


def flag_cases(rng: random.Random, n: int) -> list[Case]:
    train = ["train", "--epochs", "1", "--no-trace", "--batch-size", "256", "--out", "{W}/out",
             "--quiet"]
    trace = ["trace", "--model", "lenet-300-100", "--synthetic", "--budget", "2000",
             "--model-arg", "in_features=64", "--out", "{W}/out", "--quiet"]
    sim = ["simulate", "{F}/trace", "--out", "{W}/out", "--quiet"]
    sweep = ["sweep", "{F}/trace", "--sram-sizes", "64KiB", "--jobs", "1", "--out", "{W}/out",
             "--quiet"]
    numeric = {
        "train": ["--epochs", "--seed", "--batch-size", "--lr", "--momentum", "--weight-decay",
                  "--lr-step-epochs", "--lr-gamma", "--freeze-at-epoch", "--freeze-at-step",
                  "--trace-every", "--threads"],
        "trace": ["--seed", "--batch-size"],
        "simulate": ["--batch-size"], "sweep": ["--jobs"], "demo": ["--epochs"],
    }
    text = {
        ("train", "--device"): ["cuda", "cuda:7", "mps", "xyz", "", "cpu:0", "meta", "auto"],
        ("train", "--threads"): ["1000", "100000"],
        ("train", "--model"): ["bogus", "", "resnet18\x01"],
        ("train", "--dataset"): ["bogus", "mnist", "cifar10"],
        ("train", "--budget"): ["-5", "1e400x", "0.5x", "nanx", "infx", "99999999999", "abc",
                                "1e9x", "9" * 5000],
        ("train", "--model-arg"): ["num_classes=10000000000", "in_features=-1", "bogus=1",
                                   "num_classes=1e999", "num_classes", "=1",
                                   "in_features=" + "[" * 5000],
        ("trace", "--budget"): ["-5", "1e400x", "0.5x", "99999999999", "infx", "0"],
        ("trace", "--model-arg"): ["num_classes=10000000000", "in_features=10000000000",
                                   "depth=1000000"],
        ("sweep", "--sram-sizes"): ["1..2 x1.0000000001", "0..1 x2", "1KiB..1GiB x1.0001",
                                    "-1", "1e400", "9" * 400 + "GiB", "", ",,,", "1..2 x1",
                                    "64KiB..32KiB x2", "1..1 x2"],
        ("sweep", "--dask"): ["nonsense", "tcp://", "tcp://host:notaport", "bogus://x"],
        ("simulate", "--accelerator"): ["bogus", "", "/dev/null", "/dev/zero", "/", "a" * 5000],
        ("simulate", "--export-dram-trace"): ["bogus"],
        ("simulate", "--mode"): ["bogus"],
    }
    bases = {"train": train, "trace": trace, "simulate": sim, "sweep": sweep,
             "demo": ["demo", "--out", "{W}/out", "--quiet"]}
    cases = [Case("flags", "epochs_2**64", [*train, "--epochs", "18446744073709551616"],
                  None, False, 20),
             Case("flags", "sram_sizes_astronomical", [*sweep, "--sram-sizes",
                                                       "1..2 x1.0000000001"], None, False, 20),
             Case("flags", "out_is_fifo", [*sim[:-3], "--out", "{W}/fifo", "--quiet"],
                  lambda w, fx: fifo(w / "fifo"), False, 20),
             Case("flags", "out_under_a_file", [*sim[:-3], "--out", "{W}/file/x", "--quiet"],
                  lambda w, fx: (w / "file").write_text("x"), False),
             Case("flags", "trace_is_file", ["simulate", "{W}/file", "--out", "{W}/out"],
                  lambda w, fx: (w / "file").write_text("x"), False),
             Case("flags", "trace_missing", ["simulate", "{W}/nothing", "--out", "{W}/out"],
                  None, False),
             Case("flags", "plot_missing", ["plot", "{W}/nothing"], None, False),
             Case("flags", "report_missing", ["report", "{W}/nothing"], None, False),
             Case("flags", "no_command", [], None, False),
             # --model-arg values that change a model's input shape or stem: refused before
             # training starts, naming the model, the dataset and both shapes
             *(Case("flags", f"model_arg_{label}", [*train, "--model", model, *(
                 a for arg in args for a in ("--model-arg", arg))], None, False, 60)
               for label, model, args in (
                   ("input_size", "lenet-5", ["input_size=32"]),
                   ("in_channels", "lenet-5", ["in_channels=3"]),
                   ("in_features", "lenet-300-100", ["in_features=100"]),
                   ("stem_input_size", "resnet18", ["stem=cifar", "input_size=4"]))),
             Case("flags", "unknown_flag", ["simulate", "--bogus"], None, False)]
    options = [(cmd, flag, None) for cmd, flags in numeric.items() for flag in flags] + \
        [(cmd, flag, values) for (cmd, flag), values in text.items()]
    while len(cases) < n:
        cmd, flag, values = rng.choice(options)
        value = rng.choice(values or HOSTILE_TEXT)
        if cmd == "demo" and value not in HOSTILE_TEXT[:1]:
            value = rng.choice(["-1", "0", "18446744073709551616", "abc", "nan", "100001"])
        argv = [*bases[cmd], flag, value]
        # a legitimate value (an existing device, a real dataset, a small number) may run
        cases.append(Case("flags", f"{cmd}_{flag.strip('-')}", argv, None, True, 60))
    return cases


def results_cases(rng: random.Random, n: int) -> list[Case]:
    cases = []
    kinds = {"sim": "sim", "sweep": "sweep", "run": "run"}

    def add(mutation, src, change, allow=True):
        def setup(w, fx, src=src, change=change):
            _copy(getattr(fx, src), w / "r")
            shutil.rmtree(w / "r" / "figures", ignore_errors=True)
            (w / "r" / "report.md").unlink(missing_ok=True)
            change(w / "r", fx)
        command = rng.choice(["plot", "report"])
        argv = [command, "{W}/r", "--out", "{W}/out", "--quiet"]
        cases.append(Case("results", f"{src}_{mutation}", argv, setup, allow, 60))

    def files_of(folder: Path):
        return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file()
                      and "trace" not in p.parts)

    for _ in range(n):
        src = rng.choice(list(kinds))
        r, pick, seed = rng.random(), rng.random(), rng.randrange(9999)

        def pick_file(folder, pick=pick):
            files = files_of(folder)
            return folder / files[int(pick * len(files))]

        if r < 0.2:
            add("file_deleted", src, lambda f, fx, pick_file=pick_file: pick_file(f).unlink())
        elif r < 0.35:
            add("file_garbage", src, lambda f, fx, pick_file=pick_file, seed=seed:
                pick_file(f).write_bytes(random.Random(seed).randbytes(64)))
        elif r < 0.45:
            add("file_truncated", src, lambda f, fx, pick_file=pick_file: pick_file(f).write_bytes(
                pick_file(f).read_bytes()[:int(len(pick_file(f).read_bytes()) * 0.5)]))
        elif r < 0.5:
            add("file_fifo", src, lambda f, fx, pick_file=pick_file: fifo(pick_file(f)))
        else:
            value = rng.choice(HOSTILE)

            def change(f, fx, value=value, pick=pick, seed=seed):
                jsons = sorted(f.rglob("*.json"))
                if not jsons:
                    return
                file = jsons[int(pick * len(jsons))]
                data = json.loads(file.read_text())
                paths = list(leaf_paths(data))
                path = paths[random.Random(seed).randrange(len(paths))]
                if random.Random(seed + 1).random() < 0.2 and path:
                    delete_path(data, path)
                else:
                    data = set_path(data, path, value)
                file.write_text(json.dumps(data))
            add(f"json_{type(value).__name__}", src, change)
    return cases


# ============================================================================ running
class _Hang(BaseException):
    """Raised by the alarm: a BaseException, so the CLI's own `except Exception` lets it go."""


def _alarm(signum, frame):
    raise _Hang


def make_cases(total: int, seed: int = 0, fixtures: Fixtures | None = None,
               kinds=KINDS) -> list[Case]:
    """About `total` cases over every kind (the listed mutations first, then random ones)."""
    rng = random.Random(seed)
    share = max(1, total // len(KINDS))
    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "accelerators"
                             / "default.yaml").read_text()) if fixtures is None else \
        fixtures.config
    makers = {"config": lambda: config_cases(rng, config, share),
              "set": lambda: set_cases(rng, share), "trace": lambda: trace_cases(rng, share),
              "checkpoint": lambda: checkpoint_cases(rng, share),
              "dataset": lambda: dataset_cases(rng, share // 2),
              "resume": lambda: resume_cases(rng, share // 3) + study_cases(rng),
              "flags": lambda: flag_cases(rng, share + share // 2),
              "results": lambda: results_cases(rng, share + share // 3),
              "output": lambda: output_cases(rng, share)}
    cases = []
    for kind in KINDS:
        made = makers[kind]()
        if kind in kinds:
            cases.extend(made)
    return cases


# ---------------------------------------------------------------------------- output folders
def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink()}


def _user_folder(w: Path) -> Path:
    """A folder of the user's own files (what no --out may swap away or change)."""
    mine = w / "mine"
    mine.mkdir(parents=True, exist_ok=True)
    (mine / "notes.txt").write_text("my own notes\n")
    (mine / "report.md").write_text("# my report\n")
    (mine / "figures").mkdir(exist_ok=True)
    (mine / "figures" / "plot.png").write_bytes(b"my figure")
    return mine


def _unchanged(*names: str):
    """verify: the files under w/NAME are byte for byte what the setup left there."""
    def verify(w: Path):
        for name in names:
            before = json.loads((w / f".{name}.snapshot").read_text())
            now = {k: v.hex() for k, v in _snapshot(w / name).items()} if (w / name).is_dir() \
                else {}
            if now != before:
                changed = sorted(set(before) ^ set(now) | {k for k in before
                                                          if now.get(k) != before[k]})
                return f"{name}: {', '.join(changed)[:100]}"
        return None
    return verify


def _remember(w: Path, name: str):
    (w / f".{name}.snapshot").write_text(json.dumps(
        {k: v.hex() for k, v in _snapshot(w / name).items()}))


def output_cases(rng: random.Random, n: int) -> list[Case]:
    """--out at a folder that is not the command's own output: the user's files, a symlink to
    them, another kind of output, a file. Refused in one line before any work, nothing there
    changed; --force writes beside the user's files and removes none. A full disk while a file
    is saved: one line, the previous file intact."""
    trace = ["trace", "--model", "lenet-300-100", "--synthetic", "--budget", "2000",
             "--model-arg", "in_features=64", "--quiet", "--out"]
    commands = {
        "train": (["train", "--epochs", "1", "--no-trace", "--batch-size", "256", "--quiet",
                   "--out"], True),
        "trace": (trace, False),
        "simulate": (["simulate", "{F}/trace", "--quiet", "--out"], False),
        "sweep": (["sweep", "{F}/trace", "--sram-sizes", "64KiB", "--jobs", "1", "--quiet",
                   "--out"], False),
        "study": ([*Fixtures.study_argv, "--quiet", "--out"], True),
        "demo": (["demo", "--epochs", "1", "--quiet", "--out"], True),
        "plot": (["plot", "{F}/trace-sim", "--quiet", "--out"], True),
        "report": (["report", "{F}/trace-sim", "--quiet", "--out"], True),
    }

    def at_user_folder(link: bool):
        def setup(w, fx):
            _ = fx.sim  # plot and report read it
            mine = _user_folder(w)
            _remember(w, "mine")
            if link:
                (w / "link").symlink_to(mine, target_is_directory=True)
        return setup

    def at_trace(w, fx):
        _ = fx.sim
        _copy(fx.trace, w / "t")
        _remember(w, "t")

    def at_file(w, fx):
        _ = fx.sim
        (w / "file").write_text("a file of mine\n")
        _remember(w, "file")

    cases = []
    for command, (argv, forceable) in commands.items():
        targets = [("user_folder", "mine", at_user_folder(False)),
                   ("symlink_to_user_folder", "link", at_user_folder(True)),
                   ("file", "file", at_file)]
        if command != "trace":
            targets.append(("trace_folder", "t", at_trace))
        for label, name, setup in targets:
            kept = "mine" if name == "link" else name
            cases.append(Case("output", f"{command}_out_{label}", [*argv, f"{{W}}/{name}"],
                              setup, False, 60, _unchanged(kept) if name != "file" else None))
        if forceable and command in ("train", "plot", "report"):
            # --force writes beside the user's files: theirs of other names stay as they were
            def kept_files(w):
                for name in ("notes.txt", "figures/plot.png"):
                    if not (w / "mine" / name).is_file():
                        return name
                return None
            cases.append(Case("output", f"{command}_out_user_folder_force",
                              [*argv, "{W}/mine", "--force"], at_user_folder(False), True, 60,
                              kept_files))

    # a full disk while train saves its checkpoint (and resume.pt): the old file intact
    def old_run(w, fx):
        _copy(fx.run, w / "run")
        _remember(w, "run")

    def checkpoint_intact(name):
        def verify(w):
            before = json.loads((w / ".run.snapshot").read_text())
            now = (w / "run" / name).read_bytes().hex() if (w / "run" / name).is_file() else None
            return None if now == before.get(name) else f"run/{name} changed"
        return verify

    for name in ("checkpoint.sparse", "history.csv", "resume.pt"):
        cases.append(Case("output", f"disk_full_{name.split('.')[0]}",
                          [*Fixtures.train_argv, "--out", "{W}/run", "--quiet"], old_run, False,
                          60, checkpoint_intact(name), {"ACCELSIM_TEST_DISK_FULL": name}))
    return cases


def study_cases(rng: random.Random) -> list[Case]:
    """A study resumed over a folder whose run summaries, run configs or point files were
    edited or damaged: a damaged run is refused in one line (training it again would take
    minutes without a word), a damaged point is simulated again; never a hang."""
    argv = [*Fixtures.study_argv, "--quiet", "--out", "{W}/s"]
    cases = []

    def add(mutation, change, allow, ci=True):
        def setup(w, fx, change=change):
            _copy(fx.study, w / "s")
            change(w / "s")
        cases.append(Case("resume", f"study_{mutation}", argv, setup, allow, 60, ci=ci))

    def edit_json(path_of, fn):
        def change(s):
            p = path_of(s)
            data = json.loads(p.read_text())
            fn(data)
            p.write_text(json.dumps(data))
        return change

    def summary(s):
        return s / "runs" / "dense-s0" / "summary.json"

    def point(s):
        return sorted((s / "points").glob("*.json"))[0]

    add("summary_key_deleted", edit_json(summary, lambda d: d.pop("tracked_count")), False)
    add("summary_count_text", edit_json(summary, lambda d: d.update(param_count="x")), False,
        ci=False)
    add("summary_accuracy_huge", edit_json(summary, lambda d: d.update(test_accuracy=1e308)),
        False, ci=False)
    add("summary_garbage", lambda s: summary(s).write_text("garbage"), False)
    add("summary_fifo", lambda s: fifo(summary(s)), False)
    add("run_config_garbage", lambda s: (s / "runs" / "dense-s0" / "config.json").write_text(
        "[1"), False)
    add("point_total_text", edit_json(point, lambda d: d["totals"].update(cycles="x")), True)
    # a damaged point is simulated again: seconds each, so the CI slice runs one of them
    add("point_totals_list", edit_json(point, lambda d: d.update(totals=[1, 2])), True, False)
    add("point_fifo", lambda s: fifo(point(s)), True, False)
    add("study_json_edited", lambda s: (s / "study.json").write_text("{}"), True, False)
    for budgets in ("dense,infx", "dense,nanx", "dense,1e400x"):
        cases.append(Case("resume", f"study_budgets_{budgets.split(',')[1]}",
                          ["study", "--budgets", budgets, "--seeds", "0", "--methods",
                           "dropback", "--epochs", "1", "--out", "{W}/s", "--quiet"], None,
                          False, 60, ci=budgets.endswith("infx")))
    return cases


def _fill(argv, w: Path, fx: Fixtures):
    if any("{F}" in a for a in argv):
        _ = fx.trace  # made on first use
    out = []
    for a in argv:
        if a == "{RESUME}":
            out.extend(fx.resume_argv)
        else:
            out.append(a.replace("{W}", str(w)).replace("{F}", str(fx.root)))
    return out


def run_case(case: Case, fx: Fixtures, workdir: Path) -> Outcome:
    from accelsim.cli import main

    workdir.mkdir(parents=True, exist_ok=True)
    _DETAIL.clear()
    if case.setup is not None:
        case.setup(workdir, fx)
    detail = "; ".join(_DETAIL)
    argv = _fill(case.argv, workdir, fx)
    err, out = io.StringIO(), io.StringIO()
    code, escaped = None, None
    saved_env = {k: os.environ.get(k) for k in case.env}
    os.environ.update(case.env)
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, case.timeout_s)
    started = time.perf_counter()
    hung = False
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse
                code = exc.code if isinstance(exc.code, int) else 2
    except _Hang:
        hung = True
    except Exception as exc:  # anything escaping main is a traceback
        escaped = exc
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    seconds = time.perf_counter() - started
    stderr = err.getvalue()
    lines = [line for line in stderr.splitlines() if line.strip()
             and not line.startswith("accelsim: warning:")]
    marker = any(p.name == MARKER for p in [*workdir.rglob(MARKER), Path.cwd() / MARKER]
                 if p.exists())
    leftovers = [p for p in workdir.rglob(".*") if TEMP_NAME.search(p.name)]
    lost = case.verify(workdir) if case.verify is not None and not hung else None
    if marker:
        cls = "code_execution"
    elif hung:
        cls = "hang"
    elif escaped is not None or code == 70 or "Traceback" in stderr:
        cls = "traceback"
    elif leftovers:
        cls = "half_written"
    elif lost:
        cls = "lost"
    elif code == 0:
        cls = "accepted"
    elif code == 2 and len(lines) == 1 and lines[0].startswith("accelsim: error: "):
        cls = "refused"
    else:
        cls = "unclear"
    change = detail + (f"; lost: {lost}" if lost else "")
    detail = stderr.strip().splitlines()[-1][:300] if stderr.strip() else repr(escaped)[:300]
    return Outcome(case, cls, code, detail, seconds, {"argv": argv, "change": change})


def run_all(cases, fx: Fixtures, root: Path, progress=None) -> list[Outcome]:
    outcomes = []
    for i, case in enumerate(cases):
        workdir = root / f"case{i:05d}"
        outcomes.append(run_case(case, fx, workdir))
        shutil.rmtree(workdir, ignore_errors=True)
        if progress:
            progress(i, outcomes[-1])
    return outcomes


def table(outcomes) -> str:
    counts = Counter((o.case.kind, o.cls) for o in outcomes)
    kinds = [k for k in KINDS if any(o.case.kind == k for o in outcomes)]
    header = f"{'kind':<12}" + "".join(f"{c:>15}" for c in CLASSES) + f"{'total':>8}"
    rows = [header]
    for kind in [*kinds, "all"]:
        row = {c: sum(n for (k, cl), n in counts.items() if cl == c and kind in (k, "all"))
               for c in CLASSES}
        rows.append(f"{kind:<12}" + "".join(f"{row[c]:>15}" for c in CLASSES)
                    + f"{sum(row.values()):>8}")
    return "\n".join(rows)


def _write_csv(path: Path, outcomes):
    from accelsim.io import write_text_atomic

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["kind", "mutation", "class", "allowed_accept", "exit_code", "seconds",
                     "argv", "change", "last_stderr_line"])
    for o in outcomes:
        writer.writerow([o.case.kind, o.case.mutation, o.cls, o.case.allow_accept, o.exit_code,
                         f"{o.seconds:.3f}", " ".join(o.extra["argv"])[:300], o.extra["change"],
                         o.stderr])
    write_text_atomic(path, buffer.getvalue())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--out", default=str(RESULTS / "fuzz_cli.csv"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="accelsim-fuzz-") as tmp:
        root = Path(tmp)
        cwd = os.getcwd()
        os.chdir(root)  # a pickle writing a relative marker lands here, not in the repo
        try:
            fx = Fixtures(root / "fixtures")
            cases = make_cases(args.cases, args.seed, fx, args.kinds.split(","))
            started = time.perf_counter()

            def progress(i, outcome):
                if outcome.cls in BAD or (outcome.cls == "accepted"
                                          and not outcome.case.allow_accept):
                    print(f"  [{outcome.cls}] {outcome.case.kind}/{outcome.case.mutation}: "
                          f"{outcome.stderr[:200]}", flush=True)
                if (i + 1) % 200 == 0:
                    print(f"  {i + 1}/{len(cases)} cases, {time.perf_counter() - started:.0f} s",
                          flush=True)

            outcomes = run_all(cases, fx, root / "cases", progress)
        finally:
            os.chdir(cwd)
    print(table(outcomes))
    wrongly = [o for o in outcomes if o.cls == "accepted" and not o.case.allow_accept]
    print(f"\n{len(outcomes)} cases in {time.perf_counter() - started:.0f} s; accepted though "
          f"bad: {len(wrongly)}")
    _write_csv(Path(args.out), outcomes)
    print(f"written: {args.out}")
    return 1 if any(o.cls in BAD for o in outcomes) or wrongly else 0


if __name__ == "__main__":
    sys.exit(main())
