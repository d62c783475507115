"""Pictures for notebooks and the command line (matplotlib, Agg backend).

Each function returns a matplotlib Figure and, given ``path``, writes it as a PNG.
Needs the optional extra: ``pip install 'fastnn[plot]'``.
"""

import numpy as np

from .layout import unpack


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("fastnn.plot needs matplotlib: pip install 'fastnn[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, path):
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def _side(n_pixels):
    side = int(round(np.sqrt(n_pixels)))
    if side * side != n_pixels:
        raise ValueError(f"images need a square number of pixels, got {n_pixels}")
    return side


def _grid(n):
    cols = int(np.ceil(np.sqrt(n)))
    return int(np.ceil(n / cols)), cols


def digits(X, labels=None, predicted=None, n=64, seed=0, path=None):
    """A grid of n rows of X (column-major images; dense, or scipy.sparse) titled with labels
    and predictions; a mistake's title is red."""
    plt = _pyplot()
    m = X.shape[0]
    pick = np.random.default_rng(seed).choice(m, min(n, m), replace=False)
    rows, cols = _grid(pick.size)
    side = _side(X.shape[1])
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.25), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), pick):
        row = X[i].toarray() if hasattr(X, "toarray") else X[i]
        ax.imshow(row.reshape(side, side, order="F"), cmap="gray")
        title = "" if labels is None else f"{labels[i]}"
        if predicted is not None:
            title += f"→{predicted[i]}"
        wrong = labels is not None and predicted is not None and labels[i] != predicted[i]
        ax.set_title(title, fontsize=8, color="red" if wrong else "black")
    fig.tight_layout()
    return _finish(fig, path)


def hidden_units(params, layers, path=None):
    """The first hidden layer's input weights, one square image per unit."""
    plt = _pyplot()
    weights = unpack(params, layers)[0][:, 1:]
    side = _side(weights.shape[1])
    rows, cols = _grid(weights.shape[0])
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.2, rows * 1.2), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, w in zip(axes.ravel(), weights):
        ax.imshow(w.reshape(side, side, order="F"), cmap="gray")
    fig.suptitle("hidden units: input weights")
    fig.tight_layout()
    return _finish(fig, path)


def confusion(C, labels=None, path=None):
    """A confusion matrix (rows: true class, columns: predicted) with counts."""
    plt = _pyplot()
    labels = [str(k) for k in range(len(C))] if labels is None else labels
    fig, ax = plt.subplots(figsize=(6, 5.5))
    image = ax.imshow(C, cmap="Blues")
    ax.set(xticks=range(len(C)), yticks=range(len(C)), xticklabels=labels, yticklabels=labels,
           xlabel="predicted", ylabel="true", title="confusion matrix")
    for i, j in np.ndindex(C.shape):
        ax.text(j, i, C[i, j], ha="center", va="center", fontsize=7,
                color="white" if C[i, j] > C.max() / 2 else "black")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    return _finish(fig, path)


def cost_curve(costs, path=None):
    """The cost after each iteration, log scale."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(np.arange(1, len(costs) + 1), costs)
    ax.set(xlabel="iteration", ylabel="cost J", title="training cost")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return _finish(fig, path)
