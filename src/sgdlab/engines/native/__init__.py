"""The native engine: Numba loops for the built-in linear models and ReLU networks of one hidden layer.

XLA runs an epoch as a scan of tiny steps; at small batch sizes on the CPU a plain compiled loop is
faster (no per-step dispatch, no padding, and on CSR data a cost proportional to the nonzeros), and
register-blocked small products beat XLA's at a network's shapes. :class:`~sgdlab.engines.native.run.NativeRun`
runs such epochs from the *same* index plans and step sizes as the JAX engine, so both give the same run.

Why Numba: it compiles plain Python loops to machine code at first use and caches them on disk, so the
project needs no C toolchain at install time and a loop reads like its formula; its kernels release the
GIL, so the runs of a comparison go side by side on threads.

* :mod:`~sgdlab.engines.native.run`: NativeRun, the epoch program;
* :mod:`~sgdlab.engines.native.loops`: what NativeRun needs of each model's loop;
* :mod:`~sgdlab.engines.native.linear_sgd`, :mod:`~sgdlab.engines.native.parted`: the linear models' loops
  (dense and CSR rows; large dense batches summed in two parts on two threads);
* :mod:`~sgdlab.engines.native.network_sgd`: the one-hidden-layer network's loop;
* :mod:`~sgdlab.engines.native.exponential`: a vectorizable exp;
* :mod:`~sgdlab.engines.native.stale_caches`: dropping Numba caches compiled from older sources;
* ``_llvm/``: prefetch hints, atomic flags, register-tiled products, fast-math flags (LLVM IR).
"""
