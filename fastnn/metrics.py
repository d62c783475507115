"""Classification and regression metrics, computed by fastnn (no scikit-learn needed)."""

import numpy as np


def accuracy(y_true, y_pred):
    """The fraction of rows predicted right, a float."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def r2(y_true, y_pred):
    """The coefficient of determination 1 - SS_res / SS_tot, averaged over the columns of
    ``(m, K)`` targets (scikit-learn's ``r2_score``, uniform average; a constant column scores
    1 where predicted exactly, else 0), a float."""
    y_true = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(y_true.shape)
    residual = ((y_true - y_pred) ** 2).sum(axis=0)
    total = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    scores = np.where(total > 0, 1 - residual / np.where(total > 0, total, 1),
                      np.where(residual == 0, 1.0, 0.0))
    return float(scores.mean())


def confusion_matrix(y_true, y_pred, n_classes):
    """``C[i, j]`` = number of rows of true class i predicted as j, ``(K, K)`` int64."""
    C = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(C, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return C


def per_class_scores(C):
    """Precision, recall, F1 and support per class from a confusion matrix (0 where undefined)."""
    tp = np.diag(C).astype(float)
    predicted, support = C.sum(axis=0), C.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(tp), where=total > 0)
    return precision, recall, f1, support


def classification_report(y_true, y_pred, labels):
    """A text table: precision, recall, F1 and support per class, then the accuracy."""
    C = confusion_matrix(y_true, y_pred, len(labels))
    precision, recall, f1, support = per_class_scores(C)
    lines = [f"{'class':>8} {'precision':>9} {'recall':>9} {'F1':>9} {'support':>8}"]
    for k, name in enumerate(labels):
        lines.append(f"{name:>8} {precision[k]:>9.3f} {recall[k]:>9.3f} {f1[k]:>9.3f} "
                     f"{support[k]:>8d}")
    lines.append(f"{'accuracy':>8} {np.trace(C) / C.sum():>29.4f} {C.sum():>8d}")
    return "\n".join(lines)
