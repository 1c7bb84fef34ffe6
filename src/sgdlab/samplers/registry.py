"""The samplers' registry: every sampler factory, built in or a third party's, registered where it is defined
(``@SAMPLERS.register``); experiment files, the command line and messages read their names and parameters here."""

from sgdlab._helpers.registry import Registry

SAMPLERS = Registry("sampler")
