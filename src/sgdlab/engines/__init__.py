"""Engines: how an epoch executes, behind one written interface (:mod:`~sgdlab.engines.base`).

* :mod:`~sgdlab.engines.compiled`: JAX, one ``jax.lax.scan`` an epoch, on any device;
* :mod:`~sgdlab.engines.streamed`: data on disk, streamed through blocks of rows;
* :mod:`~sgdlab.engines.distributed`: data-parallel runs over a mesh of devices and hosts;
* :mod:`~sgdlab.engines.native`: Numba loops for the built-in models on the CPU;
* :mod:`~sgdlab.engines.select`: which engine runs a run, and why (the one place that decides).
"""
