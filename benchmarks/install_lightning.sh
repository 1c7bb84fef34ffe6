#!/usr/bin/env bash
# Installs scikit-learn-contrib lightning (a peer of benchmarks/run.py's case peers_w8a) into the environment of
# the Python given (default: python). Its only release on PyPI, 0.6.2.post0, is a source distribution whose build
# needs numpy.distutils, which fails with setuptools >= 60, so it cannot sit in the bench extra: this builds its
# wheel in a throwaway environment (setuptools < 60, Cython < 3.1, the NumPy the target has) and installs that.
set -euo pipefail
python="${1:-python}"
numpy_version="$("$python" -c 'import numpy; print(numpy.__version__)')"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
"$python" -m venv "$build/venv"
"$build/venv/bin/pip" install -q "setuptools<60" "numpy==$numpy_version" "Cython<3.1" scipy scikit-learn wheel
"$build/venv/bin/pip" wheel -q --no-build-isolation --no-deps -w "$build/wheels" "sklearn-contrib-lightning==0.6.2.post0"
"$python" -m pip install -q --no-deps "$build"/wheels/*.whl
"$python" -c 'import lightning.classification; print("lightning installed")'
