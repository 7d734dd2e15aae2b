"""The README's generated parts stay in step with the code, and its commands run as printed."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from accelsim.config.reference import reference_markdown

ROOT = Path(__file__).resolve().parents[2]


def _section(text, name):
    start, end = f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"
    return text[text.index(start) + len(start):text.index(end)]


def test_config_reference_matches_the_default_config():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert _section(readme, "config-reference") == reference_markdown("default"), \
        "regenerate with: python -m accelsim.config.reference"


def test_every_config_field_is_documented():
    from accelsim.config import load_accelerator_config

    table = reference_markdown("default")
    data = load_accelerator_config("default").to_dict()
    for key, value in data.items():
        if key == "path":
            continue
        names = ([f"{key}.{k}" for k in value if k != "sources"] if isinstance(value, dict)
                 else [key])
        for name in names:
            assert f"| `{name}` |" in table, name


def test_shipped_configs_all_load():
    from accelsim.config import available_configs, load_accelerator_config

    names = available_configs()
    assert "default" in names and len(names) >= 4
    for name in names:
        load_accelerator_config(name)


def test_python_example_runs(tmp_path, monkeypatch):
    """The README's 'From Python' example, with `my_batches` fed from the embedded digits."""
    import re

    import torch

    from accelsim.train.data import batches, load_dataset, to_torch

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = re.search(r"### From Python\n.*?```python\n(.*?)```", readme, re.S).group(1)
    data = load_dataset("digits", flatten=True)

    def my_batches():
        for xb, yb in batches(data.train_x, data.train_y, 32, seed=0, epoch=0):
            yield to_torch(xb, yb)

    monkeypatch.chdir(tmp_path)
    namespace = {"my_batches": my_batches, "print": lambda *a, **k: None}
    threads = torch.get_num_threads()
    try:
        exec(compile(code, "README.md", "exec"), namespace)
    finally:
        torch.set_num_threads(threads)  # the example sets one thread; the suite keeps its own
    result = namespace["result"]
    assert (tmp_path / "runs" / "mine" / "trace" / "manifest.json").exists()
    assert set(result.runs) == {"trace", "dense"}
    assert isinstance(namespace["model"], torch.nn.Module)


# A fenced block, with the annotation that may precede it: <!-- readme-test: skip (why) -->
BLOCK = re.compile(r"(?:<!-- readme-test: (?P<note>[^>]*?) -->\n)?```(?P<lang>[a-z]*)\n"
                   r"(?P<code>.*?)```", re.S)
# what the test changes in the printed commands, and only this: fewer epochs
FAST = {"--epochs 40": "--epochs 2"}


def _blocks():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return [m.groupdict() for m in BLOCK.finditer(readme)]


def test_every_command_block_runs_or_says_why_not():
    """A block of `accelsim` commands is a bash block the test runs, or is marked skip with a
    reason; commands in a plain block would escape the test."""
    for block in _blocks():
        commands = [line for line in block["code"].splitlines()
                    if re.match(r"\s*(accelsim|make|python|pip) ", line)]
        if not commands:
            continue
        assert block["lang"] == "bash", f"commands outside a bash block: {commands[0]}"
        note = block["note"] or ""
        if note.startswith("skip"):
            assert re.search(r"skip \(.+\)", note), f"a skipped block says why: {note!r}"


@pytest.mark.slow
def test_readme_shell_blocks_run_as_printed(tmp_path):
    """Every bash block not marked skip runs in an empty folder, in order, under `bash -e`,
    with `accelsim` on PATH as the console script puts it there."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "accelsim"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m accelsim.cli \"$@\"\n")
    shim.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    runnable = [b["code"] for b in _blocks()
                if b["lang"] == "bash" and not (b["note"] or "").startswith("skip")]
    assert runnable, "no runnable bash block found in the README"
    script = "\n".join(runnable)
    for printed, fast in FAST.items():
        script = script.replace(printed, fast)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=work, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout[-1500:], done.stderr[-1500:])
    assert "error" not in done.stderr.lower(), done.stderr[-1500:]
    for made in ("runs/db/trace/manifest.json", "runs/db-sim/report.md",
                 "runs/db/trace-sweep/sweep.parquet", "r18/manifest.json",
                 "r18-sweep/sweep.parquet", "r18-sim/records.parquet"):
        assert (work / made).exists(), made


@pytest.mark.parametrize("name", ["LICENSE", "docs/REFERENCES.md"])
def test_files_the_readme_links_exist(name):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"]({name})" in readme
    assert (ROOT / name).is_file()


def test_every_relative_link_of_the_readme_resolves():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme):
        if "://" in target:
            continue
        assert (ROOT / target).exists(), f"README links {target}, which is not in the repository"


def _layout_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Layout", 1)[1]
    return section.split("```", 2)[1]


def test_the_layout_names_every_top_level_module_and_nothing_else():
    """The README's layout block and the package's top level agree both ways: every module
    and package (private ones aside) is named, and every `accelsim/...` it names exists."""
    named = set(re.findall(r"^accelsim/([A-Za-z0-9_.]+/?)", _layout_block(), re.MULTILINE))
    package = ROOT / "accelsim"
    present = {p.name + ("/" if p.is_dir() else "") for p in package.iterdir()
               if not p.name.startswith("_") and p.name != "__pycache__"
               and (p.is_dir() or p.suffix == ".py")}
    assert named == present, (f"missing from the layout: {sorted(present - named)}; "
                              f"named but absent: {sorted(named - present)}")
