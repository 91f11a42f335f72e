"""labkit.viz.association_scatter: one point per item, its spread, the fit, clear errors."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure

from labkit import viz


def test_association_scatter_draws_points_spread_fit_and_labels() -> None:
    share, association = [2, 30, 60, 95], [0.8, 0.3, -0.1, -0.5]
    figure = viz.association_scatter(share, association, ["a", "b", "c", "d"], low=[0.5, 0.1, -0.3, -0.9],
                                     high=[1.0, 0.6, 0.2, -0.2], annotate=["a", "d"], xlabel="% women")
    assert isinstance(figure, Figure)
    ax = figure.axes[0]
    points = ax.collections[-1].get_offsets()
    assert np.allclose(points, np.column_stack([share, association]))
    assert {text.get_text() for text in ax.texts} == {"a", "d"}
    fit = [line for line in ax.get_lines() if line.get_label() == "least-squares line"][0]
    slope = np.diff(fit.get_ydata()[[0, -1]]) / np.diff(fit.get_xdata()[[0, -1]])
    assert slope[0] == pytest.approx(np.polyfit(share, association, 1)[0])
    assert ax.get_xlabel() == "% women"


def test_association_scatter_draws_into_a_given_axis() -> None:
    figure, ax = viz.new_axes()
    assert viz.association_scatter([1, 2], [0.0, 1.0], ["x", "y"], ax=ax) is figure


@pytest.mark.parametrize(("arguments", "message"), [
    (dict(share=[1, 2], association=[1.0], labels=["a", "b"]), "equal-length"),
    (dict(share=[1, 2], association=[1.0, 2.0], labels=["a", "b"], low=[0, 0]), "both low and high"),
    (dict(share=[1, 2], association=[1.0, 2.0], labels=["a", "b"], low=[2, 0], high=[3, 3]), "low <= association"),
    (dict(share=[1, 2], association=[1.0, 2.0], labels=["a", "b"], annotate=["zzz"]), "not plotted"),
])
def test_association_scatter_refuses_bad_input(arguments: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        viz.association_scatter(**arguments)
