"""The ``sgdlab`` command."""

from __future__ import annotations

import argparse

import sgdlab


def parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    command = argparse.ArgumentParser(
        prog="sgdlab",
        description="Gradient descent and every sampling scheme of SGD, as the theory states them, on JAX. "
                    "From Python: import sgdlab as sl; sl.minimize(sl.least_squares(X, y), sampler=sl.shuffled_cyclic(32)).",
    )
    command.add_argument("--version", action="version", version=f"sgdlab {sgdlab.__version__}")
    return command


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    command = parser()
    command.parse_args(argv)
    command.print_help()
    return 0
