"""Compiled programs shared by every problem of the same structure in one process.

Two problems of one family and shapes (a study's thousand small least-squares problems, a comparison's seeds on
new draws of the data) lower to the same program: the data are arguments, never constants. Compiling each
problem's lowering again costs a compile (or a load from JAX's persistent cache), and every loaded executable
maps its own code pages: a process that kept one per problem ran out of memory maps (``vm.max_map_count``,
65,530 on a usual Linux) after a few hundred problems and died. :func:`compiled` hands back the executable
already loaded for an identical lowering instead.

Identical means the same StableHLO text (every constant a program holds — a regularization weight, a
problem's size — is written in it), the same argument and result structure, and the same backend and default
device: the programs are then the same computation, so sharing them changes no number.
"""

from __future__ import annotations

import collections
import hashlib
import threading
from typing import Any

import jax

#: How many distinct programs are kept loaded (the least recently used is released first): enough for every
#: program of a large comparison, few enough that their memory maps stay far below the system's limit.
CAPACITY = 512

_programs: collections.OrderedDict[tuple, Any] = collections.OrderedDict()
_lock = threading.Lock()


def compiled(lowered: Any) -> Any:
    """``lowered.compile()``, or the executable this process already compiled for an identical lowering (the
    same program text, argument and result structure, backend and default device)."""
    device = jax.config.jax_default_device   # type: ignore[attr-defined]   # (a context flag, untyped)
    key = (hashlib.sha256(lowered.as_text().encode()).digest(), lowered.in_tree, lowered.out_tree,
           jax.default_backend(), str(device))
    with _lock:
        if key in _programs:
            _programs.move_to_end(key)
            return _programs[key]
    program = lowered.compile()
    with _lock:
        _programs[key] = program
        while len(_programs) > CAPACITY:
            _programs.popitem(last=False)
    return program
