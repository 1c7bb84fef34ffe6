"""Helpers written in LLVM IR as Numba intrinsics: prefetch hints, the atomic flags threads meet at,
register-tiled small matrix products, and the fast-math flags the loops compile with."""
