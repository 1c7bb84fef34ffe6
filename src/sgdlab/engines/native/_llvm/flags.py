"""The LLVM fast-math flags the native loops compile with.

Not "fast math" in full: NaN and inf keep their meaning, so a diverging run is still seen. Division
follows IEEE (the loops use ``error_model="numpy"``: x/0 is ±inf or NaN, with no Python exception).
"""

#: Reassociating sums (so dot products vectorize) and fused multiply-adds.
REORDER = {"reassoc", "contract"}
#: Fused multiply-adds only: sums in the order written.
IN_ORDER = {"contract"}
