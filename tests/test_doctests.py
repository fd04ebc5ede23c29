"""The worked examples in module docstrings run as tests."""

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["ctcbias.contextual_adapter", "ctcbias.encoder", "ctcbias.inference.formats",
                                  "ctcbias.inference.biasing_list", "ctcbias.inference.entity_guard",
                                  "ctcbias.inference.word_guard"])
def test_docstring_examples(name):
    res = doctest.testmod(importlib.import_module(name))
    assert res.attempted > 0 and res.failed == 0
