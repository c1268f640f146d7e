"""Classification metrics from logits: accuracy, top-k, macro-F1, per-class accuracy, confusion matrix."""

from __future__ import annotations

import numpy as np
import torch


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """[C, C] counts; row = true class, column = predicted class."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def top_k_accuracy(logits: np.ndarray, y_true: np.ndarray, k: int) -> float:
    top = np.argsort(-logits, axis=1)[:, :k]
    return float((top == y_true[:, None]).any(axis=1).mean())


def macro_f1(cm: np.ndarray) -> float:
    """Mean F1 over the classes that occur in the truth or the predictions."""
    tp = np.diag(cm).astype(float)
    precision_den, recall_den = cm.sum(0), cm.sum(1)
    present = (precision_den + recall_den) > 0
    f1 = np.divide(2 * tp, precision_den + recall_den, out=np.zeros_like(tp), where=present)
    return float(f1[present].mean())


def cross_entropy(logits: np.ndarray, y_true: np.ndarray) -> float:
    """Mean negative log-probability of the true classes under softmax(logits); NaN for no sequences."""
    if len(y_true) == 0:
        return float("nan")
    return float(torch.nn.functional.cross_entropy(torch.as_tensor(logits), torch.as_tensor(y_true, dtype=torch.long)))


def classification_report(logits: np.ndarray, y_true: np.ndarray, actions: list[str]) -> dict:
    """Every metric `handrnn evaluate` prints, as plain data."""
    y_pred = logits.argmax(1)
    cm = confusion_matrix(y_true, y_pred, len(actions))
    support = cm.sum(1)
    per_class = {a: (float(cm[i, i] / support[i]) if support[i] else None) for i, a in enumerate(actions)}
    return {
        "n": len(y_true),
        "accuracy": float((y_pred == y_true).mean()),
        "top5_accuracy": top_k_accuracy(logits, y_true, min(5, logits.shape[1])),
        "loss": cross_entropy(logits, y_true),
        "macro_f1": macro_f1(cm),
        "per_class_accuracy": per_class,
        "confusion_matrix": cm.tolist(),
    }
