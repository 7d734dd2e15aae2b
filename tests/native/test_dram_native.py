"""The Python<->C seam (accelsim.native): the parameter struct is checked field by field at
load, a failing compiler is shown, and nothing is loaded from the build cache on its name."""

import ctypes
import os
import subprocess
from pathlib import Path

import pytest

from accelsim import native
from accelsim.native import build
from accelsim.sim.dram import controller

NATIVE = Path(native.__file__).parent


def _swapped(structure, first, second, name="Swapped"):
    names = [n for n, _ in structure._fields_]
    i, j = names.index(first), names.index(second)
    names[i], names[j] = names[j], names[i]
    return type(name, (ctypes.Structure,), {"_fields_": [(n, ctypes.c_int64) for n in names]})


def test_the_library_and_the_python_declaration_agree():
    fields, size, counters = controller.layout(controller.library())
    assert [name for name, _ in fields] == list(controller.PARAMETERS)
    assert size == ctypes.sizeof(controller.Parameters)
    assert tuple(counters) == controller.COUNTERS
    controller.check(controller.library())


def test_swapping_two_fields_on_the_python_side_fails_the_check():
    swapped = _swapped(controller.Parameters, "queue_depth", "write_buffer_depth")
    with pytest.raises(native.NativeError, match="queue_depth") as info:
        controller.check(controller.library(), structure=swapped)
    assert "\n" not in str(info.value)


def test_a_counter_list_out_of_order_fails_the_check():
    counters = list(controller.COUNTERS)
    counters[0], counters[1] = counters[1], counters[0]
    with pytest.raises(native.NativeError, match="counts"):
        controller.check(controller.library(), counters=counters)


def test_swapping_two_fields_in_the_header_fails_the_check(tmp_path):
    # the C side compiled with read-queue depth and write-buffer depth swapped in its struct
    header = (NATIVE / "dram_controller.h").read_text()
    assert header.count("X(queue_depth)") == 1 and header.count("X(write_buffer_depth)") == 1
    header = (header.replace("X(queue_depth)", "X(@@)")
              .replace("X(write_buffer_depth)", "X(queue_depth)")
              .replace("X(@@)", "X(write_buffer_depth)"))
    (tmp_path / "dram_controller.h").write_text(header)
    (tmp_path / "dram_controller.c").write_text((NATIVE / "dram_controller.c").read_text())
    library = tmp_path / "swapped.so"
    subprocess.run(["cc", "-O0", "-shared", "-fPIC", "-o", str(library),
                    str(tmp_path / "dram_controller.c")], check=True)
    with pytest.raises(native.NativeError, match="disagree"):
        controller.check(ctypes.CDLL(str(library)))


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """Nothing installed, nothing loaded yet, an empty private cache."""
    monkeypatch.setattr(native, "_installed", lambda name: None)
    monkeypatch.setattr(native, "_loaded", {})
    cache = tmp_path / "cache"
    monkeypatch.setenv("ACCELSIM_CACHE", str(cache))
    return cache / "native"


def test_a_failing_compiler_shows_its_messages_and_cc_is_honoured(fresh_cache, monkeypatch):
    monkeypatch.setenv("CC", "sh -c 'echo the-compilers-complaint >&2; exit 3' --")
    with pytest.raises(native.NativeError, match="exited with 3: the-compilers-complaint"):
        native.load("dram_controller")
    monkeypatch.setenv("CC", "no-such-compiler-here")
    with pytest.raises(native.NativeError, match="CC='no-such-compiler-here'"):
        native.load("dram_controller")


def test_a_first_use_build_is_cached_with_its_record_and_used_again(fresh_cache, monkeypatch):
    lib = native.load("dram_controller")
    controller.check(lib)
    built = sorted(p.name for p in fresh_cache.iterdir() if not p.name.startswith("."))
    assert [Path(n).suffix for n in built] == [".json", ".so"]
    monkeypatch.setattr(native, "_loaded", {})
    monkeypatch.setenv("CC", "false")  # a second process finds it built: no compiler needed
    native.load("dram_controller")


def _planted(tmp_path, marker):
    """A shared object whose constructor leaves `marker` behind if it is ever loaded."""
    source = tmp_path / "planted.c"
    source.write_text('#include <stdio.h>\n__attribute__((constructor)) static void run(void) '
                      f'{{ FILE *f = fopen("{marker}", "w"); if (f) fclose(f); }}\n')
    out = tmp_path / "planted.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(out), str(source)], check=True)
    return out.read_bytes()


@pytest.mark.parametrize("how", ["no record", "other bytes", "writable by others"])
def test_a_library_planted_in_the_cache_is_refused_not_loaded(fresh_cache, tmp_path,
                                                              monkeypatch, how):
    native.load("dram_controller")  # builds the genuine one and its record
    monkeypatch.setattr(native, "_loaded", {})
    target = next(fresh_cache.glob("dram_controller-*.so"))
    marker = tmp_path / "constructor-ran"
    if how == "writable by others":
        target.chmod(0o777)
    else:
        target.write_bytes(_planted(tmp_path, marker))
        if how == "no record":
            target.with_suffix(".json").unlink()
    with pytest.raises(native.NativeError, match="refusing to load"):
        native.load("dram_controller")
    assert not marker.exists()


def test_an_installed_build_of_other_sources_is_not_used(tmp_path, monkeypatch):
    # a library whose baked-in digest is not that of the sources here (a stale install)
    source = tmp_path / "stale.c"
    source.write_text('const char *ctl_build_digest(void) { return "stale"; }\n')
    suffix = native.EXTENSION_SUFFIXES[0]
    monkeypatch.setattr(build, "HERE", tmp_path)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(tmp_path / f"_dram_controller{suffix}"),
                    str(source)], check=True)
    monkeypatch.setattr(build, "digest", lambda name: "fresh")
    assert native._installed("dram_controller") is None


def test_the_dram_command_stops_in_one_line_where_the_controller_cannot_be_built(
        fresh_cache, monkeypatch, tmp_path, capsys):
    from accelsim.cli import main

    monkeypatch.setattr(controller, "_lib_cache", [])
    monkeypatch.setenv("CC", "false")
    trace = tmp_path / "t.trace"
    trace.write_text("0x0 READ 0\n0x40 WRITE 3\n")
    assert main(["dram", str(trace), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "dram_controller" in err and "exited with 1" in err


def test_the_installed_extensions_are_declared_from_the_build_table():
    # setup.py builds every library of build.LIBRARIES, with the digest baked in
    setup = (Path(native.__file__).parents[2] / "setup.py").read_text()
    assert "build.LIBRARIES.items()" in setup and "digest_macro" in setup
    for name in build.LIBRARIES:
        assert len(build.digest(name)) == 64
    assert os.path.basename(build.HERE) == "native"
