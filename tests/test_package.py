"""The package: a light import, 64-bit JAX however it is imported, every public name reachable, annotated
and documented with examples."""

import dataclasses
import inspect
import subprocess
import sys
import typing

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


def _public():
    """The functions and classes of sgdlab's namespace, and sl.theory's functions (its classes are the
    records those functions return)."""
    names = [(name, getattr(sgdlab, name)) for name in sorted(sgdlab._EXPORTS)]
    return names + [(f"theory.{name}", getattr(sgdlab.theory, name)) for name in sgdlab.theory.__all__
                    if inspect.isfunction(getattr(sgdlab.theory, name))]


PUBLIC = _public()
FUNCTIONS = [(name, obj) for name, obj in PUBLIC if inspect.isfunction(obj)]


@pytest.mark.parametrize(("name", "function"), FUNCTIONS, ids=[name for name, _ in FUNCTIONS])
def test_every_public_function_is_fully_annotated(name, function):
    signature = inspect.signature(function)
    missing = [p.name for p in signature.parameters.values() if p.annotation is inspect.Parameter.empty]
    assert not missing and signature.return_annotation is not inspect.Signature.empty, (name, missing)
    typing.get_type_hints(function)   # the annotations name types that resolve


@pytest.mark.parametrize(("name", "obj"), PUBLIC, ids=[name for name, _ in PUBLIC])
def test_every_public_name_has_numpydoc_sections_with_examples(name, obj):
    doc = inspect.getdoc(obj) or ""
    sections = {line.strip() for line, underline in zip(doc.splitlines(), doc.splitlines()[1:], strict=False)
                if underline.strip() and set(underline.strip()) == {"-"}}
    assert "Examples" in sections and ">>> " in doc, name
    if inspect.isfunction(obj):
        assert "Returns" in sections, name
        takes_arguments = bool(inspect.signature(obj).parameters)
        assert not takes_arguments or "Parameters" in sections, name
    elif dataclasses.is_dataclass(obj):
        assert sections & {"Parameters", "Attributes"}, name


@pytest.mark.parametrize("cls", [sgdlab.Result, sgdlab.Comparison])
def test_result_and_comparison_annotate_every_field(cls):
    hints = typing.get_type_hints(cls)
    assert {field.name for field in dataclasses.fields(cls)} <= set(hints)
