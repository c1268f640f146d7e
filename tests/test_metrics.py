"""Classification metrics against cases worked out by hand."""

import numpy as np
import pytest

from handrnn.metrics import classification_report, confusion_matrix, macro_f1, top_k_accuracy

# Three classes, six sequences: truth 0 0 1 1 2 2, predicted 0 1 1 1 2 0.
Y_TRUE = np.array([0, 0, 1, 1, 2, 2])
Y_PRED = np.array([0, 1, 1, 1, 2, 0])


def test_confusion_matrix_rows_are_truth_columns_predictions():
    assert confusion_matrix(Y_TRUE, Y_PRED, 3).tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]


def test_macro_f1_by_hand():
    # class 0: P 1/2 R 1/2 F1 1/2; class 1: P 2/3 R 1 F1 4/5; class 2: P 1 R 1/2 F1 2/3
    assert macro_f1(confusion_matrix(Y_TRUE, Y_PRED, 3)) == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)


def test_macro_f1_leaves_out_classes_absent_from_truth_and_predictions():
    cm = confusion_matrix(np.array([0, 1]), np.array([0, 1]), 4)
    assert macro_f1(cm) == 1.0


def test_top_k_accuracy_by_hand():
    logits = np.array([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0], [2.0, 3.0, 1.0]])
    y = np.array([1, 0, 2])  # ranks 2, 3, 3
    assert top_k_accuracy(logits, y, 1) == 0.0
    assert top_k_accuracy(logits, y, 2) == pytest.approx(1 / 3)
    assert top_k_accuracy(logits, y, 3) == 1.0


def test_classification_report_per_class_and_accuracy():
    logits = np.eye(3)[Y_PRED] * 5
    r = classification_report(logits, Y_TRUE, ["a", "b", "c"])
    assert r["accuracy"] == pytest.approx(4 / 6) and r["n"] == 6
    assert r["per_class_accuracy"] == {"a": 0.5, "b": 1.0, "c": 0.5}
    missing = classification_report(logits[:4], Y_TRUE[:4], ["a", "b", "c"])
    assert missing["per_class_accuracy"]["c"] is None


def test_report_loss_is_the_mean_cross_entropy_of_the_true_classes():
    logits = np.array([[0.0, 0.0], [np.log(3.0), 0.0]])  # probabilities 1/2 1/2 and 3/4 1/4
    r = classification_report(logits, np.array([0, 1]), ["a", "b"])
    assert r["loss"] == pytest.approx((np.log(2) + np.log(4)) / 2)
