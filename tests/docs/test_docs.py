"""The API reference builds from the docstrings, and every public name has one."""

import importlib.util
import inspect
from pathlib import Path

import pytest

import accelsim

ROOT = Path(__file__).resolve().parents[2]


def _public_names():
    return [name for name in accelsim.__all__ if name != "__version__"]


def test_dir_lists_the_public_api():
    listed = dir(accelsim)
    for name in _public_names():
        assert name in listed


@pytest.mark.parametrize("name", _public_names())
def test_every_public_name_and_method_has_a_docstring(name):
    obj = getattr(accelsim, name)
    assert inspect.getdoc(obj), f"accelsim.{name} has no docstring"
    if inspect.isclass(obj):
        for attr, member in vars(obj).items():
            if attr.startswith("_") or not (inspect.isfunction(member)
                                            or isinstance(member, property)):
                continue
            assert inspect.getdoc(member), f"accelsim.{name}.{attr} has no docstring"


@pytest.mark.filterwarnings("error::UserWarning")  # pdoc's: a name it cannot resolve
def test_api_reference_builds(tmp_path):
    pytest.importorskip("pdoc")
    spec = importlib.util.spec_from_file_location("build_api", ROOT / "docs" / "build_api.py")
    build_api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_api)
    pages = build_api.build(tmp_path / "api")
    names = {p.relative_to(tmp_path / "api").as_posix() for p in pages}
    assert "index.html" in names and "accelsim.html" in names
    assert "accelsim/trace/recorder.html" in names
    recorder = (tmp_path / "api" / "accelsim" / "trace" / "recorder.html").read_text()
    # the class's own docstring is on its page
    assert "Records which weights a training run touches" in recorder
    top = (tmp_path / "api" / "accelsim.html").read_text()
    for name in _public_names():
        assert name in top
