"""Experiments: comparisons over seeds and settings, saved runs, summaries, plots, the HTML report,
experiment files (TOML) and the ``sgdlab`` command. Imports nothing heavy, so ``sgdlab --help`` is fast."""
