"""The worked examples in module docstrings run as tests: every module of the package whose
source holds one (a new module's examples are found without being listed here)."""

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import ctcbias

ROOT = Path(ctcbias.__file__).parent
MODULES = sorted(m.name for m in pkgutil.walk_packages([str(ROOT)], "ctcbias.")
                 if (ROOT / (m.name.split(".", 1)[1].replace(".", "/") + ".py")).is_file()
                 and ">>>" in (ROOT / (m.name.split(".", 1)[1].replace(".", "/") + ".py")).read_text())


def test_the_modules_with_examples_are_found():
    assert {"ctcbias.inference.align", "ctcbias.inference.entity_guard", "ctcbias.inference.result"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0 and res.failed == 0
