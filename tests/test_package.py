"""The package: a light import, 64-bit JAX however it is imported, and every public name reachable."""

import subprocess
import sys

import pytest

import sgdlab


def _python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_import_does_not_load_jax():
    assert _python("import sys, sgdlab; print('jax' in sys.modules)") == "False"


@pytest.mark.parametrize("code", [
    "import sgdlab.problems, jax.numpy as jnp; print(jnp.ones(1).dtype)",
    "import jax, sgdlab, jax.numpy as jnp; print(jnp.ones(1).dtype)",
    "import sgdlab as sl, numpy as np; print(sl.least_squares(np.eye(2), np.ones(2)).params0.dtype)",
])
def test_64_bit_mode_is_on_however_jax_is_imported(code):
    assert _python(code) == "float64"


@pytest.mark.parametrize("name", sgdlab.__all__)
def test_every_public_name_resolves(name):
    assert getattr(sgdlab, name) is not None


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'minimise'"):
        _ = sgdlab.minimise


def test_minimize_is_the_function_whatever_was_imported_first():
    code = "import sgdlab.run.api, sgdlab, types; print(isinstance(sgdlab.minimize, types.FunctionType))"
    assert _python(code) == "True"
