"""The C parts, compiled at install as extensions (the rest of the metadata is pyproject.toml).

`pip install -e .` (the Makefile's `pip install -e '.[dev]'`) builds them into accelsim/native/;
CC is honoured. Each library carries a digest of its sources and flags, which accelsim checks
before it uses one (accelsim/native/__init__.py).
"""

import importlib.util
import sys
import tempfile
from pathlib import Path

from setuptools import Extension, setup

_spec = importlib.util.spec_from_file_location(
    "accelsim_native_build", Path(__file__).parent / "accelsim" / "native" / "build.py")
build = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = build  # a dataclass looks its module up
_spec.loader.exec_module(build)

# setuptools' scratch (build/, accelsim.egg-info/) goes to a temporary folder, not the source
# tree: `pip install .` leaves a checkout as it found it
_SCRATCH = Path(tempfile.gettempdir()) / "accelsim-setuptools"

setup(options={"build": {"build_base": str(_SCRATCH / "build")},
               "egg_info": {"egg_base": str(_SCRATCH)}},
      ext_modules=[
    Extension(f"accelsim.native._{name}",
              sources=[f"accelsim/native/{file}" for file in library.sources],
              depends=[f"accelsim/native/{file}" for file in library.headers],
              extra_compile_args=list(library.flags),
              define_macros=[build.digest_macro(name)],
              optional=library.optional)
    for name, library in build.LIBRARIES.items()
])
