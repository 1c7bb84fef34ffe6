"""The registries of methods (how a gradient becomes an update) and of averagings (an iterate kept beside θ):
each factory registered where it is defined (``@METHODS.register``, ``@AVERAGINGS.register``)."""

from sgdlab._helpers.registry import Registry

METHODS = Registry("method")
AVERAGINGS = Registry("average")
