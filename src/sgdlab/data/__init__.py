"""Data: bundled, synthetic and file data sets (:mod:`~sgdlab.data.datasets`), arrays read by rows
from files (:mod:`~sgdlab.data.ondisk`), rows split over devices (:mod:`~sgdlab.data.sharded`), and
train and test parts (:mod:`~sgdlab.data.splits`)."""

from sgdlab.data.datasets import (
    BUNDLED,
    Dataset,
    bundled,
    checked_source,
    load,
    load_file,
    standardize,
    synthetic,
    with_intercept,
)
from sgdlab.data.ondisk import ParquetColumns, is_on_disk, parquet_columns
from sgdlab.data.splits import split

__all__ = ["BUNDLED", "Dataset", "ParquetColumns", "bundled", "checked_source", "is_on_disk", "load", "load_file",
           "parquet_columns", "split", "standardize", "synthetic", "with_intercept"]
