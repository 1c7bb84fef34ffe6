"""Running: ``minimize`` / ``maximize`` (:mod:`~sgdlab.run.api`), their validated options, the one run
loop, histories, run identities and checkpoints."""
