"""The README's generated parts stay in step with the code."""

from pathlib import Path

from accelsim.config.reference import reference_markdown

ROOT = Path(__file__).resolve().parent.parent


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
    exec(compile(code, "README.md", "exec"), namespace)
    result = namespace["result"]
    assert (tmp_path / "runs" / "mine" / "trace" / "manifest.json").exists()
    assert set(result.runs) == {"trace", "dense"}
    assert isinstance(namespace["model"], torch.nn.Module)
