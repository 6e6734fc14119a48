"""The examples in the docstrings run and print what they say."""

import doctest

import pytest

from jaxorth.overestimate import _certify, _networks


@pytest.mark.parametrize("module", [_networks, _certify], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
