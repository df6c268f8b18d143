"""Build script for the optional compiled build; the project's metadata lives in pyproject.toml.

``PUBLISHER_COMPILE=1`` compiles the modules named in ``publisher/buildinfo.py`` with mypyc (a C compiler and
the Python headers are needed); without it the package is pure Python. See docs/performance.md.
"""

import os
import runpy
from pathlib import Path

from setuptools import setup

ext_modules = []
if os.environ.get("PUBLISHER_COMPILE", "0") == "1":
    from mypyc.build import mypycify

    modules = runpy.run_path(str(Path("publisher") / "buildinfo.py"))["COMPILED_MODULES"]
    ext_modules = mypycify([name.replace(".", "/") + ".py" for name in modules], opt_level="3")

setup(ext_modules=ext_modules)
