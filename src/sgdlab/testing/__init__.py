"""A contributor's conformance kit, as scikit-learn's ``check_estimator``: a new sampler, method or problem family
run through the engines, the run identity, the theory and the experiment files, with what it lacks said in words.

>>> import sgdlab as sl
>>> from sgdlab.testing import check_sampler
>>> report = check_sampler(sl.shuffled_cyclic(2))
>>> report.ok, report.lacks
(True, [])

Each check returns a :class:`Conformance`: ``failures`` (a broken contract: a wrong plan, a native run that differs
from the JAX engine's, a theorem quoted that the object does not declare, a fingerprint blind to a hyperparameter),
``lacks`` (what the object does not declare: registration, native support, a theorem — each refused or said so,
never borrowed from a parent) and ``passed``. ``report.check()`` raises an AssertionError listing the failures.
"""

from sgdlab.testing.conformance import Conformance
from sgdlab.testing.methods import check_method
from sgdlab.testing.problems import check_problem
from sgdlab.testing.samplers import check_sampler

__all__ = ["Conformance", "check_method", "check_problem", "check_sampler"]
