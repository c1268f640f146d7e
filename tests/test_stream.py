import io
import json

import numpy as np
import pytest

from handrnn.cli import main
from handrnn.datasets import load_data, read_sequence
from handrnn.errors import HandRNNError
from handrnn.evaluation import load_model
from handrnn.features import sequence_palm
from handrnn.stream import Streamer, can_stream, classify, segments, windows

from .conftest import train_tiny

SKEL = "Hand_pose_annotation_v1/Subject_1/open_jar/1/skeleton.txt"
MODELS = {
    "gru-xyz": [],
    "lstm-mean-pose-vel4": ["--cell", "lstm", "--pool", "mean", "--features", "pose,vel,vel4,dists"],
    "hrnn-vel": ["--model", "hrnn", "--num-units1", "4", "--features", "pose,vel"],
    "ensemble-max": ["--members", "2", "--pool", "max", "--features", "xyz,vel"],
    "every-third-frame": ["--frame-step", "3", "--features", "pose,vel,vel4"],
}


@pytest.mark.parametrize("name", MODELS)
def test_streamed_prediction_is_the_whole_sequence_prediction(tree, tmp_path, name):
    model, encoder, _ = load_model(train_tiny(tree, tmp_path, name, MODELS[name]))
    seq = read_sequence(tree / SKEL)
    streamer = Streamer(model, encoder)
    start, rng = 0, np.random.default_rng(0)
    while start < len(seq):  # chunks of 1 to 6 frames
        stop = start + int(rng.integers(1, 7))
        probs = streamer.push(seq[start:stop])
        start = stop
    palm = sequence_palm(seq[:1].reshape(1, 21, 3).astype(np.float64))  # a stream knows only the first frame's
    whole = classify(model, encoder.__class__(encoder.names, encoder.normaliser), seq) if name == "gru-xyz" else None
    import torch

    with torch.no_grad():
        x = torch.from_numpy(encoder(seq, palm))[None]
        same_palm = torch.softmax(model(x, torch.tensor([x.shape[1]])), -1)[0].numpy()
    np.testing.assert_allclose(probs, same_palm, atol=1e-5)
    if whole is not None:  # xyz features do not use the palm: exactly the whole-sequence prediction
        np.testing.assert_allclose(probs, whole, atol=1e-5)


def test_whole_sequence_models_cannot_stream_and_say_what_to_do(tree, tmp_path):
    model, encoder, _ = load_model(train_tiny(tree, tmp_path, "bi", ["--bidirectional", "--pool", "mean"]))
    assert not can_stream(model)
    with pytest.raises(HandRNNError, match="--window"):
        Streamer(model, encoder)


def test_windows_and_segments():
    results = [
        (4, np.array([0.9, 0.1])),
        (8, np.array([0.8, 0.2])),
        (12, np.array([0.3, 0.7])),
        (14, np.array([0.4, 0.6])),
    ]
    segs = segments(results, window=6)
    assert [(s.start, s.end, s.action) for s in segs] == [(0, 8, 0), (8, 14, 1)]
    assert segs[0].probability == pytest.approx(0.85) and segs[1].probability == pytest.approx(0.65)


def test_predict_stream_reads_stdin(tree, tmp_path, capsys, monkeypatch):
    run = train_tiny(tree, tmp_path, "g", [])
    capsys.readouterr()
    lines = (tree / SKEL).read_text()
    n = len(lines.splitlines())
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    assert main(["predict", str(run), "--stream", "--every", "5", "--top", "1", "--json"]) == 0
    reports = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["frame"] for r in reports] == list(range(5, n + 1, 5)) + ([n] if n % 5 else [])
    assert main(["predict", str(run), str(tree / SKEL), "--top", "1", "--json"]) == 0
    whole = json.loads(capsys.readouterr().out)
    assert reports[-1]["top"][0]["action"] == whole["top"][0]["action"]
    assert reports[-1]["top"][0]["probability"] == pytest.approx(whole["top"][0]["probability"], abs=1e-5)
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    assert main(["predict", str(run), "--stream", "--window", "8", "--stride", "4"]) == 0
    out = capsys.readouterr().out
    assert "frames 0-4: " in out and "stdin: frames 0-" in out
    for text, message in [
        ("1 2 3\n", "stdin:1: expected 63 numbers"),
        ("\n\n", "stdin: no frames"),
        (lines.splitlines()[0] + "\n" + "0 " + " ".join(["x"] * 63) + "\n", "stdin:2: not a number: 'x'"),
    ]:
        monkeypatch.setattr("sys.stdin", io.StringIO(text))
        assert main(["predict", str(run), "--stream"]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    assert main(["predict", str(run)]) == 2 and "give skeleton files" in capsys.readouterr().err


def test_predict_reads_csv(tree, tmp_path, capsys):
    run = train_tiny(tree, tmp_path, "g", [])
    capsys.readouterr()
    seq = read_sequence(tree / SKEL)
    header = "frame," + ",".join(f"j{j}_{c}" for j in range(21) for c in "xyz")
    rows = [f"{t}," + ",".join(f"{v:.4f}" for v in row) for t, row in enumerate(seq)]
    (tmp_path / "s.csv").write_text("\n".join([header, *rows]) + "\n")
    np.testing.assert_allclose(read_sequence(tmp_path / "s.csv"), seq, atol=1e-4)
    assert main(["predict", str(run), str(tree / SKEL), str(tmp_path / "s.csv"), "--top", "1"]) == 0
    a, b = capsys.readouterr().out.splitlines()
    assert a.split(": ")[1] == b.split(": ")[1]
    (tmp_path / "bad.csv").write_text("1,2,3\n")
    assert main(["predict", str(run), str(tmp_path / "bad.csv")]) == 2
    assert "bad.csv:1: expected 63 values" in capsys.readouterr().err


@pytest.mark.fpha
def test_windows_cut_a_recording_of_several_actions(fpha, tmp_path):
    """Three real sequences of different actions joined end to end: every window inside one sequence is
    classified as in that sequence alone, and the segments name the three actions in their order."""
    argv = ["train", "--data", str(fpha), "--out", str(tmp_path), "--name", "r", "--protocol", "1:1", "--threads", "2"]
    argv += ["--epochs", "8", "--lr", "3e-3", "--features", "pose,vel", "--num-units", "32", "--val-fraction", "0"]
    assert main(argv) == 0
    model, encoder, _ = load_model(tmp_path / "r")
    data = load_data(fpha)
    window, stride = 40, 5

    def own_windows(seq):
        return [p.argmax() for seen, p in windows(model, encoder, [seq], window, stride) if seen >= window]

    chosen = []
    for i in np.flatnonzero(data.split == 0):  # sequences whose own windows mostly say their action
        seq, label = data.sequences[i], int(data.labels[i])
        if len(seq) >= 2 * window and label not in {int(data.labels[c]) for c in chosen}:
            votes = own_windows(seq)
            if np.mean(np.array(votes) == label) > 0.6:
                chosen.append(i)
        if len(chosen) == 3:
            break
    assert len(chosen) == 3
    recording = np.concatenate([data.sequences[i] for i in chosen])
    bounds = np.cumsum([0] + [len(data.sequences[i]) for i in chosen])
    results = list(windows(model, encoder, [recording], window, stride))
    for k, i in enumerate(chosen):
        inside = [(seen - bounds[k], p) for seen, p in results if bounds[k] <= seen - window and seen <= bounds[k + 1]]
        assert len(inside) >= (len(data.sequences[i]) - window) // stride
        for end, p in inside:  # the same as that stretch of the sequence alone
            np.testing.assert_allclose(p, classify(model, encoder, data.sequences[i][end - window : end]), atol=1e-5)
        assert np.bincount([p.argmax() for _, p in inside]).argmax() == data.labels[i]
    segs = segments(results, window)
    assert segs[0].start == 0 and segs[-1].end == len(recording)
    assert all(a.end == b.start for a, b in zip(segs, segs[1:]))  # the segments tile the recording
    assert {int(data.labels[i]) for i in chosen} <= {s.action for s in segs}


def test_show_writes_an_animated_hand_with_the_running_prediction(tree, tmp_path, capsys):
    from PIL import Image

    run = train_tiny(tree, tmp_path, "g", [])
    seq = read_sequence(tree / SKEL)
    out = tmp_path / "hand.gif"
    assert main(["show", str(tree / SKEL), "--run", str(run), "--out", str(out), "--step", "2", "--fps", "10"]) == 0
    with Image.open(out) as gif:
        assert gif.n_frames == (len(seq) + 1) // 2 and gif.size[0] > 200
    assert "wrote" in capsys.readouterr().out
    for extra, message in [
        (["--out", str(tmp_path / "h.avi")], "write a .gif or an .mp4"),
        (["--step", "0"], "--step"),
    ]:
        assert main(["show", str(tree / SKEL), *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
