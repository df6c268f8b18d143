"""The compiled build's module list and the check of what this process runs."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from publisher import buildinfo

PACKAGE_ROOT = Path(buildinfo.__file__).resolve().parent.parent


def test_every_module_of_the_compiled_build_has_its_source_beside_it() -> None:
    # setup.py turns each name into a path; a renamed or removed module must fail here, not in the image build
    for name in buildinfo.COMPILED_MODULES:
        source = PACKAGE_ROOT / (name.replace(".", "/") + ".py")
        assert source.is_file(), name
    assert len(set(buildinfo.COMPILED_MODULES)) == len(buildinfo.COMPILED_MODULES)


def test_the_build_under_test_is_the_one_asked_for() -> None:
    # `make test` runs the interpreted sources; `make test-compiled` the compiled copy. A stray extension
    # module beside a source (an in-place build left behind) would make the first test compiled code.
    expected = "compiled" if os.environ.get("PUBLISHER_EXPECT_COMPILED") == "1" else "interpreted"
    assert buildinfo.build_kind() == expected
    for name, compiled in buildinfo.compiled_modules().items():
        spec = importlib.util.find_spec(name)
        assert spec is not None
        assert spec.origin is not None
        assert compiled is (not spec.origin.endswith(".py")), name


@pytest.mark.parametrize(
    ("flags", "kind"),
    [((True, True), "compiled"), ((False, False), "interpreted"), ((True, False), "mixed")],
)
def test_build_kind_names_a_partly_compiled_tree(
    monkeypatch: pytest.MonkeyPatch, flags: tuple[bool, bool], kind: str
) -> None:
    monkeypatch.setattr(buildinfo, "compiled_modules", lambda: dict(zip("ab", flags, strict=True)))
    assert buildinfo.build_kind() == kind
