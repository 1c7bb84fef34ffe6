"""Arrays on disk, read by rows: the data of a finite sum larger than memory.

Two kinds serve as the leaves of ``sl.finite_sum`` data that are never read whole (the engine then
streams each epoch, see :mod:`sgdlab.engines.streamed`):

* NumPy files opened with ``np.load(path, mmap_mode="r")`` (``np.memmap``): any row can be read alone;
* columns of a Parquet file, ``sl.parquet_columns(path, columns)``: Parquet stores rows in row groups,
  each compressed by column, so reading rows means reading (and decoding) the row groups that hold
  them; a slice or an array of row numbers reads each of those row groups once.

Random rows all over a file cost a read of most of its row groups; ``sl.shuffled_chunks(B, chunk)``
with chunks about a row group long keeps an epoch to about one read of the file.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from sgdlab._helpers import validation
from sgdlab._helpers.aliases import PathLike


class ParquetColumns:
    """Columns of a Parquet file as an array of N rows read on demand: N × k for a list of k column
    names, N for one name. Indexing takes a slice of rows or an array of row numbers."""

    def __init__(self, path: Path, columns: list[str], squeeze: bool, dtype: np.dtype):
        import pyarrow.parquet as pq  # the Parquet reader, imported when used

        self.path, self.columns, self.dtype = path, columns, dtype
        self._file = pq.ParquetFile(path)
        metadata = self._file.metadata
        sizes = [metadata.row_group(group).num_rows for group in range(metadata.num_row_groups)]
        self._starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        n = int(self._starts[-1])
        self.shape = (n,) if squeeze else (n, len(columns))
        self._lock = threading.Lock()
        self._cached: tuple[int, np.ndarray] | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        """The rows as a NumPy array, each row group holding some of them read once."""
        rows = np.arange(*rows.indices(len(self))) if isinstance(rows, slice) else np.asarray(rows, dtype=np.int64)
        if rows.ndim != 1 or (rows.size and (rows.min() < 0 or rows.max() >= len(self))):
            validation.fail("rows", f"a slice or a 1-D array of row numbers in [0, {len(self) - 1}]",
                            validation.shown(rows))
        out = np.empty((rows.size, *self.shape[1:]), dtype=self.dtype)
        groups = np.searchsorted(self._starts, rows, side="right") - 1
        for group in np.unique(groups):
            chosen = groups == group
            out[chosen] = self._row_group(int(group))[rows[chosen] - self._starts[group]]
        return out

    def _row_group(self, group: int) -> np.ndarray:
        """One row group's columns as an array (the last one read is kept: consecutive reads share it)."""
        with self._lock:
            if self._cached is None or self._cached[0] != group:
                table = self._file.read_row_group(group, columns=self.columns)
                values = np.column_stack([table.column(name).to_numpy(zero_copy_only=False)
                                          for name in self.columns]).astype(self.dtype, copy=False)
                self._cached = group, (values[:, 0] if len(self.shape) == 1 else values)
            return self._cached[1]

    def __repr__(self) -> str:
        return f"parquet_columns({str(self.path)!r}, {len(self.columns)} columns, shape {self.shape})"


def parquet_columns(path: PathLike, columns: str | Sequence[str], dtype: DTypeLike = np.float64) -> ParquetColumns:
    """Columns of the Parquet file at ``path`` as an array read a row group at a time, for the data of
    ``sl.finite_sum`` larger than memory (runs then stream them).

    Parameters
    ----------
    path : str or path
        An existing Parquet file.
    columns : str or sequence of str
        A list of names gives an N × k array (e.g. the features), one name an N array (e.g. the target).
        Numbers or booleans only; a column with missing values is refused when the problem checks its data.
    dtype : dtype, default float64
        The array's dtype.

    Returns
    -------
    ParquetColumns
        An array-like of the columns, indexed by a slice or an array of row numbers.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> import sgdlab as sl
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "rows.parquet"
    >>> pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0.5, 1.0, 1.5]}).to_parquet(path)
    >>> features = sl.parquet_columns(path, ["x"])
    >>> features.shape, features[[2, 0]].tolist()
    ((3, 1), [[3.0], [1.0]])
    """
    path = Path(path)
    if not path.is_file():
        validation.fail("path", "an existing Parquet file", validation.shown(str(path)))
    squeeze = isinstance(columns, str)
    given = [columns] if squeeze else list(columns) if isinstance(columns, list | tuple) else []
    names = [name for name in given if isinstance(name, str)]
    if not names or len(names) != len(given):
        validation.fail("columns", "a column name or a non-empty list of column names", validation.shown(columns),
                        error=TypeError)
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    missing = [name for name in names if name not in schema.names]
    if missing:
        validation.fail("columns", f"names of columns of {path.name} ({', '.join(schema.names)})", f"{missing}")
    numeric = [name for name in names if not _is_numeric(schema.field(name).type)]
    if numeric:
        validation.fail("columns", "columns of numbers or booleans", f"{numeric} of types "
                        f"{[str(schema.field(name).type) for name in numeric]}", error=TypeError)
    return ParquetColumns(path, names, squeeze, np.dtype(dtype))


def _is_numeric(kind) -> bool:
    import pyarrow.types as types

    return types.is_integer(kind) or types.is_floating(kind) or types.is_boolean(kind)


def is_on_disk(leaf) -> bool:
    """True for an array read by rows from a file (a memory map or Parquet columns)."""
    return isinstance(leaf, (np.memmap, ParquetColumns))
