"""Theorems as objects declare them: the name, the citation and the largest step a theorem admits.

A sampler, a method or a step rule carries the theorems that apply to it (``theorems = (FRESH_BATCHES,)``
in its class body, read with :func:`sgdlab._helpers.declared.declared`); :mod:`sgdlab.theory` checks each
theorem's assumptions on the run and computes its bound. The catalogue below lists the theorems sgdlab knows;
a third party's object declares one of them, or a :class:`Theorem` of its own (quoted in words, with no bound
drawn unless the theory knows its ``key``).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Theorem:
    """A theorem's ``key`` (how the theory knows it), its ``name`` and ``citation`` in words, and ``limit``: the
    largest α times ``constant`` (e.g. 1/4 with "L_max") it admits, or None where the limit is not of that form;
    ``strict`` when α·constant must stay below the limit, and ``default``: the α·constant a run takes by default
    (inside the limit; None: the limit itself, rounded down)."""

    key: str
    name: str
    citation: str
    limit: float | None = None
    constant: str | None = None
    claim: str = ""
    strict: bool = False
    default: float | None = None

    def admits(self, ratio: float) -> bool:
        """Whether α·constant = ``ratio`` is inside the limit (below it when ``strict``)."""
        assert self.limit is not None
        return ratio < self.limit if self.strict else ratio <= self.limit * (1 + 1e-12)

    @property
    def statement(self) -> str:
        """'name (citation): claim', the theorem as a step check quotes it."""
        return f"{self.title}: {self.claim}" if self.claim else self.title

    @property
    def title(self) -> str:
        """'name (citation)', as verdicts quote it."""
        return f"{self.name} ({self.citation})"


GRADIENT_DESCENT = Theorem("gradient_descent", "the descent lemma of gradient descent", "Nesterov 2004, §1.2.3",
                           2.0, "L")
FRESH_BATCHES = Theorem("fresh_batches", "SGD with batches drawn afresh", "Gower et al. 2019, Theorem 3.1", 0.5, "L_B")
SHUFFLED_ORDERS = Theorem("shuffled_orders", "shuffled and cyclic orders with strongly convex terms",
                          "Mishchenko, Khaled and Richtárik 2020, Theorem 1", 1.0, "L_max")
HEAVY_BALL_QUADRATIC = Theorem("momentum_quadratic", "heavy ball on a quadratic", "Polyak 1987, §3.2")
NESTEROV_QUADRATIC = Theorem("momentum_quadratic", "Nesterov momentum on a quadratic", "Polyak 1987, §3.2")
SVRG = Theorem("svrg", "SVRG", "Johnson and Zhang 2013, Theorem 1", 0.25, "L_max",
                "E F(w̃ₛ) − p* ≤ ρˢ (F(w̃₀) − p*) with ρ = 1/(μα(1 − 2αL_max)m) + 2αL_max/(1 − 2αL_max), m the steps "
                "between snapshots, for α < 1/(4 L_max) and m long enough that ρ < 1", strict=True, default=0.125)
LOOPLESS_SVRG = Theorem("variance_reduced", "loopless SVRG", "Kovalev, Horváth and Richtárik 2020, Theorem 5", 1 / 6,
                        "L_max", "a linear rate for α ≤ 1/(6 L_max)")
SAGA = Theorem("variance_reduced", "SAGA", "Defazio, Bach and Lacoste-Julien 2014, Theorem 1", 1 / 3, "L_max",
               "a linear rate for α ≤ 1/(3 L_max)")
POLYAK_STEP = Theorem("polyak_step", "Polyak's step", "Polyak 1987, §5.3; Hazan and Kakade 2019")
STOCHASTIC_POLYAK_STEP = Theorem("stochastic_polyak_step", "the stochastic Polyak step",
                                 "Loizou et al. 2021, Theorem 3.1")
PL_GRADIENT_DESCENT = Theorem("pl_gradient_descent", "gradient descent under the Polyak–Łojasiewicz inequality",
                              "Karimi, Nutini and Schmidt 2016, Theorem 1", 2.0, "L")
PL_SGD = Theorem("pl_sgd", "SGD under the Polyak–Łojasiewicz inequality and expected smoothness",
                 "Khaled and Richtárik 2023, Theorem 3")
NONCONVEX_SGD = Theorem("nonconvex_sgd", "SGD on a smooth non-convex F under expected smoothness",
                        "Khaled and Richtárik 2023, Theorem 2")
