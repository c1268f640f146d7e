"""The Python API: import light, load a run, classify arrays, train from Python."""

import json
import subprocess
import sys

import numpy as np
import pytest

import handrnn
from handrnn.cli import main

from .conftest import make_tree


def test_import_is_light_and_lists_the_public_names():
    code = "import sys, handrnn; print('torch' in sys.modules, sorted(handrnn.__all__))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("False") and "'load'" in out and "'train'" in out
    assert {"load", "train", "Config", "load_data", "protocol_splits"} <= set(dir(handrnn))
    with pytest.raises(AttributeError):
        handrnn.nonesuch  # noqa: B018


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    tree = make_tree(root / "t")
    argv = ["train", "--data", str(tree), "--out", str(root), "--name", "r", "--epochs", "2", "--num-units", "4"]
    assert main(argv + ["--features", "pose,vel", "--pool", "mean"]) == 0
    return root / "r", tree


def test_load_classifies_arrays_as_predict_does(run, capsys):
    run_dir, tree = run
    skel = tree / "Hand_pose_annotation_v1/Subject_1/open_jar/1/skeleton.txt"
    seq = np.loadtxt(skel)[:, 1:]
    clf = handrnn.load(run_dir)
    probs = clf.predict_proba(seq)
    assert probs.shape == (1, 4) and probs.sum() == pytest.approx(1, abs=1e-5)
    np.testing.assert_allclose(clf.predict_proba(seq.reshape(-1, 21, 3)), probs, rtol=1e-6)
    both = clf.predict_proba([seq, seq[:5]])
    np.testing.assert_allclose(both[0], probs[0], rtol=1e-5)
    (ranked,) = clf(seq, top=2)
    assert len(ranked) == 2 and ranked[0][0] in clf.actions and ranked[0][1] >= ranked[1][1]
    capsys.readouterr()
    assert main(["predict", str(run_dir), str(skel), "--top", "1"]) == 0
    assert f"{ranked[0][0]} {ranked[0][1]:.3f}" in capsys.readouterr().out
    assert main(["predict", str(run_dir), str(skel), str(skel), "--top", "2", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["top"][0]["action"] == ranked[0][0]
    with pytest.raises(handrnn.HandRNNError, match="sequence 0: expected"):
        clf.predict_proba(np.zeros((5, 62)))


def test_train_from_python_returns_results_and_writes_a_run(tmp_path):
    tree = make_tree(tmp_path / "t")
    results = handrnn.train(data=str(tree), out=str(tmp_path), name="py", epochs=2, num_units=4, protocol="1:1")
    assert len(results) == 1 and results[0]["epochs_run"] == 2 and (tmp_path / "py" / "train.log").exists()
    cfg = handrnn.Config(data=str(tree), out=str(tmp_path), epochs=1, num_units=4, protocol="cross-subject")
    folds = handrnn.train(cfg, name="xs")
    assert [r["run"].rsplit("/", 1)[1] for r in folds] == ["subject1", "subject2", "subject3"]
