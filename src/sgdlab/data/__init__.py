"""Data: bundled, synthetic and file data sets (:mod:`~sgdlab.data.datasets`), arrays read by rows
from files (:mod:`~sgdlab.data.ondisk`) and rows split over devices (:mod:`~sgdlab.data.sharded`)."""

from sgdlab.data.datasets import BUNDLED, Dataset, bundled, load, load_file, standardize, synthetic, with_intercept
from sgdlab.data.ondisk import ParquetColumns, is_on_disk, parquet_columns

__all__ = ["BUNDLED", "Dataset", "ParquetColumns", "bundled", "is_on_disk", "load", "load_file", "parquet_columns",
           "standardize", "synthetic", "with_intercept"]
