"""The problem families' registry: factories ``family(X, y, **hyperparameters)`` by the name experiment files
and the command line give as ``kind`` (``@FAMILIES.register(name="logistic")`` where the factory is defined).
The schema of a family is its factory's parameters after X and y."""

from sgdlab._helpers.registry import Registry

FAMILIES = Registry("problem family", skip=("X", "y"))
