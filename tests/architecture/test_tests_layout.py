"""The tests mirror the package: every test folder is a module path of accelsim (tests/sim/dram
for accelsim/sim/dram/, tests/io for accelsim/io.py) or a named cross-cutting folder; no test
file sits flat in tests/; test file names are unique (pytest imports them by base name, with
tests/ on its `pythonpath` for the shared helper modules); and a test that finds a folder by
counting parents of its own file lands on the repository root or tests/."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
PACKAGE = ROOT / "accelsim"
# folders that test something across the package rather than one module
CROSS_CUTTING = {"architecture", "docs", "workflow", "fuzz", "kill", "benchmarks"}
NOT_TESTS = {"data", "__pycache__"}
HELPER = re.compile(r"^(conftest|kill_zygote|write_bytecode|.*_helpers|.*_common)\.py$")
PARENTS = re.compile(r"Path\(__file__\)(?:\.resolve\(\))?"
                     r"(?P<chain>(?:\.parent)+(?!s)|\.parents\[(?P<n>\d+)\])")


def _test_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("test_*.py") if not NOT_TESTS & set(p.parts))


def test_no_test_file_sits_flat_in_tests():
    flat = sorted(p.name for p in TESTS.glob("*.py") if not HELPER.match(p.name))
    assert not flat, f"place these in the folder of the module they test: {flat}"


def test_every_test_folder_is_a_module_path_or_a_cross_cutting_folder():
    folders = {p.parent.relative_to(TESTS) for p in _test_files()}
    assert folders, "no tests found"
    wrong = []
    for folder in sorted(folders):
        name = folder.as_posix()
        mirrors = (PACKAGE / folder).is_dir() or (PACKAGE / f"{name}.py").is_file()
        if not (mirrors or folder.parts[0] in CROSS_CUTTING):
            wrong.append(name)
    assert not wrong, f"neither accelsim/<folder> nor one of {sorted(CROSS_CUTTING)}: {wrong}"


def test_cross_cutting_folders_do_not_shadow_a_module_path():
    clash = [f for f in CROSS_CUTTING if (PACKAGE / f).exists() or (PACKAGE / f"{f}.py").exists()]
    assert not clash, clash


def test_test_file_names_are_unique_and_folders_are_not_packages():
    names: dict[str, list[str]] = {}
    for path in _test_files():
        names.setdefault(path.name, []).append(str(path.relative_to(TESTS)))
    assert {n: p for n, p in names.items() if len(p) > 1} == {}
    # an __init__.py would change how pytest names the modules in one folder only
    assert sorted(TESTS.rglob("__init__.py")) == []


def test_parent_counting_lands_on_the_repository_or_tests():
    wrong = []
    for path in _test_files() + sorted(TESTS.glob("*.py")):
        if path == Path(__file__).resolve():  # its own examples, below
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in PARENTS.finditer(line):
                up = int(m["n"]) + 1 if m["n"] is not None else m["chain"].count(".parent")
                if path.parents[up - 1] not in (ROOT, TESTS):
                    wrong.append(f"{path.relative_to(TESTS)}:{number}")
    assert not wrong, wrong


def test_the_layout_test_finds_what_it_checks():
    # the parent-counting pattern sees every spelling used here
    for text, up in (("Path(__file__).parent / 'x'", 1), ("Path(__file__).resolve().parents[2]", 3),
                     ("Path(__file__).parent.parent", 2)):
        m = PARENTS.search(text)
        assert m is not None
        assert (int(m["n"]) + 1 if m["n"] is not None else m["chain"].count(".parent")) == up
    assert len(_test_files()) > 50
