import contextlib
import json
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trace_helpers import tiny_trace

from accelsim.errors import TraceError
from accelsim.trace.format import (
    FORMAT_VERSION,
    Snapshot,
    build_trace,
    load_trace,
    pack_mask,
    save_trace,
    steps_frame,
    unpack_mask,
)
from accelsim.trace.geometry import conv2d_layer, linear_layer
from accelsim.trace.synthetic import draw_mask, layer_shares


@pytest.fixture
def saved(tmp_path):
    return save_trace(tiny_trace(), tmp_path / "trace")


def test_round_trip_keeps_every_table(saved):
    original = tiny_trace()
    loaded = load_trace(saved)
    assert loaded.iterations == 3 and not loaded.dense
    for a, b in zip(original.snapshots(), loaded.snapshots()):
        assert a.iteration == b.iteration and a.reason == b.reason
        for layer_id in a.masks:
            assert np.array_equal(a.masks[layer_id], b.masks[layer_id])
    assert loaded.steps.equals(original.steps)
    assert loaded.layers["weight_shape"].map(list).tolist() == \
        original.layers["weight_shape"].map(list).tolist()


def test_writing_twice_gives_identical_bytes(tmp_path):
    a = save_trace(tiny_trace(), tmp_path / "a")
    b = save_trace(tiny_trace(), tmp_path / "b")
    for name in ("manifest.json", "layers.parquet", "steps.parquet", "snapshots.parquet"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_overwrite_replaces_folder(tmp_path):
    path = save_trace(tiny_trace(budget=100), tmp_path / "t")
    save_trace(tiny_trace(budget=200), path)
    assert load_trace(path).budget_tracked_count == 200
    assert [p.name for p in tmp_path.iterdir()] == ["t"]


def test_pack_unpack_masks():
    rng = np.random.default_rng(1)
    for n in (1, 7, 8, 9, 1000):
        mask = rng.random(n) < 0.3
        assert np.array_equal(unpack_mask(pack_mask(mask), n), mask)
        assert len(pack_mask(mask)) == (n + 7) // 8


def test_dense_view_tracks_everything():
    dense = tiny_trace().as_dense()
    assert dense.dense
    assert (dense.steps["regenerated_count"] == 0).all()
    assert all(m.all() for m in next(dense.snapshots()).masks.values())


def test_geometry_gemm_dims_multiply_to_macs():
    rows = [linear_layer(0, "fc", 300, 100), conv2d_layer(1, "c", (16, 14, 14), 32, 3, 2, 1),
            conv2d_layer(2, "g", (8, 9, 9), 16, 3, 1, 0, groups=4)]
    for r in rows:
        for phase in ("fwd", "bwd_data", "bwd_weight"):
            assert r[f"{phase}_m"] * r[f"{phase}_n"] * r[f"{phase}_k"] == r["macs_per_sample"]
        assert r["fwd_k"] * r["fwd_n"] == r["weight_count"]
    assert rows[1]["out_shape"] == [32, 7, 7]


def test_layer_shares_sum_exactly_and_respect_caps():
    counts = layer_shares([10, 1000, 5], 900)
    assert counts.sum() == 900 and (counts <= [10, 1000, 5]).all()
    assert layer_shares([10, 20], 1000).tolist() == [10, 20]
    assert layer_shares([100, 100], 50, shares=[1, 0]).tolist() == [50, 0]


@pytest.mark.parametrize("layout", ["uniform", "clustered"])
def test_draw_mask_exact_count_and_seeded(layout):
    a = draw_mask(10_001, 1234, 7, 3, layout, 64)
    assert a.sum() == 1234
    assert np.array_equal(a, draw_mask(10_001, 1234, 7, 3, layout, 64))
    assert not np.array_equal(a, draw_mask(10_001, 1234, 8, 3, layout, 64))


def test_synthetic_manifest_says_so():
    t = tiny_trace()
    assert t.manifest["synthetic"] and t.manifest["source"] == "synthetic"
    assert t.manifest["synthetic_rule"]["layout"] == "uniform"


def _edit_manifest(path, **changes):
    m = json.loads((path / "manifest.json").read_text())
    m.update(changes)
    (path / "manifest.json").write_text(json.dumps(m))


def test_newer_version_is_refused_with_clear_message(saved):
    _edit_manifest(saved, format_version=FORMAT_VERSION + 1)
    with pytest.raises(TraceError, match="newer than this accelsim reads"):
        load_trace(saved)


def test_checksum_mismatch_names_the_file(saved):
    data = bytearray((saved / "steps.parquet").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (saved / "steps.parquet").write_bytes(bytes(data))
    with pytest.raises(TraceError, match=r"steps\.parquet.*sha256"):
        load_trace(saved)


def test_missing_file_and_folder(saved, tmp_path):
    (saved / "layers.parquet").unlink()
    with pytest.raises(TraceError, match=r"layers\.parquet: missing"):
        load_trace(saved)
    with pytest.raises(TraceError, match="not a trace folder"):
        load_trace(tmp_path / "nowhere")


def test_over_budget_counts_are_refused():
    t = tiny_trace(budget=100)
    manifest = dict(t.manifest, budget=dict(t.manifest["budget"], tracked_count=50))
    with pytest.raises(TraceError, match="exceeds the budget"):
        build_trace(manifest, t.layers, t.steps, t.snapshots())


def test_snapshot_disagreeing_with_counts_is_refused():
    t = tiny_trace(budget=100)
    snaps = list(t.snapshots())
    masks = dict(snaps[0].masks)
    masks[1] = ~masks[1]
    bad = [Snapshot(0, "first", masks), snaps[1]]
    with pytest.raises(TraceError, match="bits set"):
        build_trace(t.manifest, t.layers, t.steps, bad)


def test_broken_count_definitions_are_refused():
    t = tiny_trace()
    steps = t.steps.copy()
    steps.loc[0, "regenerated_count"] += 1
    with pytest.raises(TraceError, match="regenerated_count"):
        build_trace(t.manifest, t.layers, steps, t.snapshots())


def test_steps_frame_derives_columns():
    f = steps_frame([0], [0], [100], [10], [5], [3])
    row = f.iloc[0]
    assert row.tracked_after_count == 12 and row.regenerated_count == 90
    assert row.update_regenerated_count == 5 and row.update_write_count == 12


# -- property: any mutation is either read correctly or refused with TraceError ------------------

FILES = ["manifest.json", "layers.parquet", "steps.parquet", "snapshots.parquet"]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(file=st.sampled_from(FILES), action=st.sampled_from(["truncate", "flip", "insert", "empty"]),
       position=st.floats(0, 1), byte=st.integers(0, 255), rehash=st.booleans())
def test_mutated_traces_never_crash(saved, tmp_path_factory, file, action, position, byte, rehash):
    path = tmp_path_factory.mktemp("mut") / "t"
    shutil.copytree(saved, path)
    data = bytearray((path / file).read_bytes())
    i = int(position * max(len(data) - 1, 0))
    if action == "truncate":
        data = data[:i]
    elif action == "flip":
        data[i] ^= byte or 1
    elif action == "insert":
        data[i:i] = bytes([byte])
    else:
        data = bytearray()
    (path / file).write_bytes(bytes(data))
    if rehash and file != "manifest.json":
        # a mutation with a matching checksum must still be caught by the content checks
        import hashlib
        m = json.loads((path / "manifest.json").read_text())
        m["files"][file] = hashlib.sha256(bytes(data)).hexdigest()
        (path / "manifest.json").write_text(json.dumps(m))
    try:
        trace = load_trace(path)
    except TraceError:
        return
    for snap in trace.snapshots():  # a trace that loads must be fully usable
        assert snap.tracked_count >= 0


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(["format", "source", "iterations", "budget", "model", "files", "dense",
                            "batch_size", "seed", "accuracy"]),
       value=st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=3), st.booleans(),
                       st.just({}), st.just([])))
def test_mutated_manifest_values_never_crash(saved, tmp_path_factory, key, value):
    path = tmp_path_factory.mktemp("man") / "t"
    shutil.copytree(saved, path)
    _edit_manifest(path, **{key: value})
    with contextlib.suppress(TraceError):
        load_trace(path)
