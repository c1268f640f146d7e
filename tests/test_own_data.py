"""The own-data format: a folder of sequences plus labels.csv."""

import json

import numpy as np
import pytest

import handrnn
from handrnn.cli import main
from handrnn.datasets import TEST, TRAIN, UNSPLIT, load_data

from .conftest import make_sequence


def make_folder(root, *, people=3, reps=6, split=True):
    """Four actions, `people` people, `reps` sequences each, in .npy, .csv and skeleton-style .txt files."""
    rng = np.random.default_rng(1)
    rows = ["file,label,subject" + (",split" if split else "")]
    for person in range(people):
        for label, action in enumerate(["wave", "grab", "point", "pinch"]):
            for rep in range(reps):
                seq = make_sequence(rng, label, int(rng.integers(8, 30)))
                name = f"{action}/p{person}-{rep}"
                kind = ("npy", "csv", "txt")[rep % 3]
                path = root / f"{name}.{kind}"
                path.parent.mkdir(parents=True, exist_ok=True)
                if kind == "npy":
                    np.save(path, seq.reshape(-1, 21, 3))
                elif kind == "csv":
                    path.write_text("\n".join(",".join(f"{v:.4f}" for v in row) for row in seq) + "\n")
                else:
                    path.write_text(
                        "\n".join(f"{t} " + " ".join(f"{v:.4f}" for v in row) for t, row in enumerate(seq)) + "\n"
                    )
                part = ",train" if rep % 2 == 0 else ",test"
                rows.append(f"{name}.{kind},{action},person{person}" + (part if split else ""))
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def test_a_folder_with_labels_csv_loads(tmp_path):
    data = load_data(make_folder(tmp_path / "own"))
    assert len(data) == 72 and data.actions == ["grab", "pinch", "point", "wave"]
    assert sorted(set(data.subjects.tolist())) == [1, 2, 3]
    assert (data.split == TRAIN).sum() == 36 and (data.split == TEST).sum() == 36
    assert data.ids[0] == "wave/p0-0.npy" and data.labels[0] == data.actions.index("wave")
    np.testing.assert_allclose(
        data.sequences[1], np.loadtxt(tmp_path / "own" / "wave/p0-1.csv", delimiter=","), atol=1e-4
    )
    unsplit = load_data(make_folder(tmp_path / "own2", split=False))
    assert (unsplit.split == UNSPLIT).all()


def test_own_data_trains_on_every_protocol_its_columns_allow_and_converts(tmp_path, capsys):
    root = make_folder(tmp_path / "own")
    assert main(["data", "summary", "--data", str(root)]) == 0
    assert "sequences 72" in capsys.readouterr().out
    base = ["train", "--data", str(root), "--out", str(tmp_path / "runs"), "--epochs", "1", "--num-units", "4"]
    for protocol in ("1:1", "cw3", "1:3", "cross-subject"):
        name = protocol.replace(":", "-")
        assert main(base + ["--protocol", protocol, "--name", name, "--val-fraction", "0.2"]) == 0, protocol
    folds = json.loads((tmp_path / "runs" / "cross-subject" / "results.json").read_text())
    assert len(folds["folds"]) == 3
    assert main(["data", "convert", "--data", str(root), "--out", str(tmp_path / "own.npz"), "--protocol", "1:1"]) == 0
    again = load_data(tmp_path / "own.npz")
    assert len(again) == 72 and again.actions == ["grab", "pinch", "point", "wave"]


@pytest.mark.parametrize(
    "table, message",
    [
        ("name,action\nx.npy,wave\n", "needs the columns file and label"),
        ("file,label\n", "no sequences listed"),
        ("file,label\nmissing.npy,wave\n", "labels.csv:2: "),
        ("file,label,split\nwave/p0-0.npy,wave,later\n", "split must be train or test"),
        ("file,label\nwave/p0-0.npy,\n", "every row needs a file and a label"),
        ("file,label\nwave/p0-0.npy,wave\nwave/p0-0.npy,wave\n", "listed twice"),
    ],
)
def test_bad_labels_csv_is_one_clear_error(tmp_path, capsys, table, message):
    root = make_folder(tmp_path / "own")
    (root / "labels.csv").write_text(table)
    assert main(["data", "summary", "--data", str(root)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def make_layout_folder(root, joints=25):
    """Another skeleton: `joints` joints per frame, declared in layout.json; three actions that move apart."""
    rng = np.random.default_rng(2)
    rows = ["file,label,subject"]
    for label, action in enumerate(["clap", "snap", "tap"]):
        for rep in range(8):
            steps = int(rng.integers(6, 20))
            base = rng.normal(0, 50, (joints, 3))
            motion = np.zeros(3)
            motion[label] = 3.0
            seq = np.stack([base + t * motion for t in range(steps)]) + rng.normal(0, 0.5, (steps, joints, 3))
            name = f"{action}-{rep}.npy"
            root.mkdir(parents=True, exist_ok=True)
            np.save(root / name, seq)
            rows.append(f"{name},{action},p{rep % 2}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    (root / "layout.json").write_text(json.dumps({"joints": joints}))
    return root


def test_another_joint_layout_trains_the_flat_rnn_and_predicts(tmp_path, capsys):
    root = make_layout_folder(tmp_path / "body")
    data = load_data(root)
    assert data.joints == 25 and data.sequences[0].shape[1] == 75
    base = ["train", "--data", str(root), "--out", str(tmp_path / "runs"), "--epochs", "2", "--num-units", "8"]
    assert main(base + ["--name", "flat", "--protocol", "1:3", "--rotate", "10", "--jitter", "1"]) == 0
    cfg = json.loads((tmp_path / "runs" / "flat" / "config.json").read_text())
    assert cfg["joints"] == 25
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "runs" / "flat"), str(root / "clap-0.npy"), "--json", "--top", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["top"][0]["action"] in data.actions
    assert main(["export", str(tmp_path / "runs" / "flat")]) == 0
    from handrnn.export import onnx_session

    session, _ = onnx_session(tmp_path / "runs" / "flat" / "model.onnx")
    want = handrnn.load(tmp_path / "runs" / "flat").predict_proba(data.sequences[0])
    got = session.run(None, {"joints": data.sequences[0][None]})[0]
    np.testing.assert_allclose(got, want, atol=1e-4)
    for flags, message in [
        (["--model", "hrnn"], "need FPHA's 21 joints"),
        (["--features", "pose,vel"], "need FPHA's 21 joints"),
        (["--bones", "0.1"], "bones need FPHA's 21 joints"),
        (["--joints", "21"], "the data has 25 joints"),
    ]:
        assert main(base + ["--name", "x", "--protocol", "1:3", *flags]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    (root / "layout.json").write_text('{"joints": "many"}')
    assert main(["data", "summary", "--data", str(root)]) == 2
    assert "joints must be a whole number" in capsys.readouterr().err
