"""The edge of stability, as examples/edge_of_stability.py shows it: full-batch gradient descent on a tanh network
sharpens until its sharpness reaches 2/α and then hovers there (Cohen et al. 2021)."""

import runpy
from pathlib import Path

EXAMPLE = runpy.run_path(str(Path(__file__).resolve().parents[2] / "examples" / "edge_of_stability.py"))


def test_sharpness_hovers_within_ten_percent_of_two_over_alpha_in_two_of_three_steps():
    """Seed 0, 2,500 steps, a curvature row every 100: over each run's second half, every row's sharpness within
    ±10% of 2/α for at least two of α = 0.2, 0.25, 0.3; and every run sharpened first (above its θ⁰ value)."""
    problem = EXAMPLE["tanh_network"]()
    results = EXAMPLE["runs"](problem, epochs=2500, every=100)
    at_edge = [alpha for alpha, result in results.items() if EXAMPLE["hovering"](result, alpha) == 1.0]
    assert len(at_edge) >= 2, {alpha: EXAMPLE["hovering"](result, alpha) for alpha, result in results.items()}
    for result in results.values():
        sharpness = result.history.sharpness.dropna()
        assert sharpness.max() > 1.2 * sharpness.iloc[0] and result.status == "max_epochs"
