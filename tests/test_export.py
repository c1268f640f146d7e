import json

import numpy as np
import pytest
import torch

import handrnn
from handrnn.cli import main
from handrnn.datasets import load_data
from handrnn.export import onnx_session

from .conftest import train_tiny

CONFIGS = {
    "gru": [],
    "lstm-depth2": ["--cell", "lstm", "--depth", "2"],
    "simplernn-hand": ["--cell", "rnn", "--normalise", "hand"],
    "bigru-mean-all-features": [
        "--bidirectional",
        "--pool",
        "mean",
        "--features",
        "pose,vel,vel4,bones,dirs,dists,angles",
        "--layer-norm",
    ],
    "gru-attention-none": ["--pool", "attention", "--normalise", "none", "--features", "xyz,vel"],
    "hrnn-fused": ["--model", "hrnn", "--num-units1", "4", "--num-units2", "8"],
    "hrnn-lstm-pose": [
        "--model",
        "hrnn",
        "--cell",
        "lstm",
        "--cell2",
        "lstm",
        "--features",
        "pose,vel",
        "--num-units1",
        "4",
    ],
    "ensemble": ["--members", "2", "--bidirectional", "--pool", "max", "--features", "pose,vel"],
    "palm-frame": ["--features", "local,vel,orient", "--bidirectional", "--pool", "mean"],
    "member-features": ["--members", "2", "--grouped-kernel", "--member-features", "local,orient;pose,vel,dirs"],
    "every-third-frame": ["--frame-step", "3", "--features", "pose,vel", "--bidirectional", "--pool", "mean"],
    "fused-ensemble": ["--members", "2", "--grouped-kernel", "--bidirectional", "--pool", "mean", "--cell", "rnn"],
}


@pytest.mark.parametrize("name", CONFIGS)
def test_exported_models_match_pytorch(tree, tmp_path, name):
    run = train_tiny(tree, tmp_path, name, CONFIGS[name])
    clf = handrnn.load(run)
    data = load_data(tree)
    rng = np.random.default_rng(0)
    seqs = [data.sequences[0], data.sequences[1][:3], data.sequences[2][:1], rng.normal(300, 40, (57, 63))]
    want = clf.predict_proba([s.astype(np.float32) for s in seqs], check=False)  # noise too
    assert main(["export", str(run), "--format", "onnx"]) == 0
    session, actions = onnx_session(run / "model.onnx")
    assert actions == list(data.actions)
    got = np.stack([session.run(None, {"joints": s[None].astype(np.float32)})[0][0] for s in seqs])
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert main(["export", str(run), "--format", "torchscript", "--out", str(tmp_path / "ts" / "m.pt")]) == 0
    extra = {"actions.json": ""}
    scripted = torch.jit.load(str(tmp_path / "ts" / "m.pt"), _extra_files=extra)
    assert json.loads(extra["actions.json"]) == list(data.actions)
    with torch.no_grad():
        got = np.stack([scripted(torch.from_numpy(s[None].astype(np.float32)))[0].numpy() for s in seqs])
    np.testing.assert_allclose(got, want, atol=1e-4)


@pytest.mark.fpha
def test_onnx_matches_pytorch_on_real_sequences(fpha, tmp_path):
    argv = ["train", "--data", str(fpha), "--out", str(tmp_path), "--name", "r", "--epochs", "1", "--threads", "1"]
    assert (
        main(argv + ["--num-units", "16", "--features", "local,vel,orient", "--bidirectional", "--pool", "mean"]) == 0
    )
    assert main(["export", str(tmp_path / "r")]) == 0
    session, actions = onnx_session(tmp_path / "r" / "model.onnx")
    data = load_data(fpha)
    assert actions == list(data.actions)
    order = np.argsort(data.lengths)
    picks = [order[0], order[len(order) // 2], order[-1]]  # the shortest, a median and the longest sequence
    want = handrnn.load(tmp_path / "r").predict_proba([data.sequences[i] for i in picks])
    got = np.stack([session.run(None, {"joints": data.sequences[i][None]})[0][0] for i in picks])
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert len({len(data.sequences[i]) for i in picks}) == 3


def test_export_errors(tmp_path, capsys):
    assert main(["export", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "no such checkpoint" in err and "Traceback" not in err
