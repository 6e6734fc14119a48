import jax
import numpy as np
import pytest

from jaxorth._random import numpy_rng


def test_numpy_rng_is_a_pure_function_of_the_key():
    a = numpy_rng(jax.random.PRNGKey(3)).normal(size=5)
    b = numpy_rng(jax.random.PRNGKey(3)).normal(size=5)
    typed = numpy_rng(jax.random.wrap_key_data(jax.random.PRNGKey(3))).normal(size=5)
    other = numpy_rng(jax.random.PRNGKey(4)).normal(size=5)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, typed)  # a typed key and its raw data seed alike
    assert not np.array_equal(a, other)
    with pytest.raises(ValueError, match="seed must be a JAX PRNG key"):
        numpy_rng("nope", "seed")
