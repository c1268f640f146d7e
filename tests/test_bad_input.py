"""The catalogue of broken inputs: each gives a correct load or one clear error line with exit status 2."""

import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handrnn.cli import main
from handrnn.datasets import parse_skeleton, read_fpha
from handrnn.errors import HandRNNError

from .conftest import make_tree

SKEL = "Hand_pose_annotation_v1/Subject_1/open_jar/1/skeleton.txt"
ROW = " ".join(["100.0"] * 63)
SPLIT = "data_split_action_recognition.txt"


def run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip().splitlines()


def expect_error(argv, capsys, *fragments):
    code, _, err = run(argv, capsys)
    assert code == 2, err
    errors = [line for line in err if line.startswith("handrnn: error:")]
    assert len(errors) == 1, err
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


# (what, skeleton.txt bytes, expected error fragments; None = loads correctly)
SKELETON_CASES = [
    ("wrong column count", f"0000 {ROW} 1.0\n", [SKEL + ":1", "expected 64 columns"]),
    ("non-numeric token", f"0000 {ROW[:-5]} x1.0\n", [SKEL + ":1", "not a number: 'x1.0'"]),
    ("NaN", f"0000 {ROW}\n0001 {ROW[:-5]} nan\n", [SKEL + ":2", "NaN"]),
    ("inf", f"0000 {ROW[:-5]} -inf\n", [SKEL + ":1", "infinite"]),
    ("truncated last line", f"0000 {ROW}\n0001 {ROW[:40]}", [SKEL + ":2", "expected 64 columns"]),
    ("duplicated frame number", f"0000 {ROW}\n0000 {ROW}\n", [SKEL + ":2", "frame numbers"]),
    ("decreasing frame number", f"0001 {ROW}\n0000 {ROW}\n", [SKEL + ":2", "frame numbers"]),
    ("fractional frame number", f"0000.5 {ROW}\n", [SKEL + ":1", "frame numbers"]),
    ("absurd magnitude", f"0000 {ROW[:-5]} 1e12\n", [SKEL + ":1", "beyond 5000 mm"]),
    ("binary garbage", "\x00\x01\x02 abc\n", [SKEL + ":1"]),
    ("CRLF line ends", f"0000 {ROW}\r\n0001 {ROW}\r\n", None),
    ("byte-order mark", f"\ufeff0000 {ROW}\n0001 {ROW}\n", None),
    ("one frame", f"0000 {ROW}\n", None),
    ("no final newline", f"0000 {ROW}\n0001 {ROW}", None),
    ("tabs and blank lines", f"0000\t{ROW}\n\n0001 {ROW}\n", None),
]


@pytest.mark.parametrize("what, content, fragments", SKELETON_CASES, ids=[c[0] for c in SKELETON_CASES])
def test_skeleton_file_catalogue(tmp_path, capsys, what, content, fragments):
    tree = make_tree(tmp_path / "t")
    (tree / SKEL).write_bytes(content.encode("utf-8"))
    if fragments is None:
        code, out, _ = run(["data", "summary", "--data", str(tree)], capsys)
        assert code == 0 and "sequences 48" in out
        d = read_fpha(tree)
        x = d.sequences[d.ids.index("Subject_1/open_jar/1")]
        assert x.shape == (len([line for line in content.splitlines() if line.strip()]), 63) and (x == 100.0).all()
    else:
        expect_error(["data", "summary", "--data", str(tree)], capsys, *fragments)
        code, out, err = run(["data", "summary", "--data", str(tree), "--on-bad", "skip"], capsys)
        assert code == 0 and "sequences 47" in out and any(SKEL in line for line in out.splitlines())
        assert any("skipped 1 unreadable file(s)" in line for line in err)


def edit_split(tree, change):
    path = tree / SPLIT
    lines = path.read_text().splitlines()
    path.write_text("\n".join(change(lines)) + "\n")


SPLIT_CASES = [
    ("unknown action", lambda ls: [ls[0], "Subject_1/fly/1 0", *ls[2:]], [SPLIT + ":2", "unknown action 'fly'"]),
    (
        "entry without a file",
        lambda ls: [ls[0], "Subject_1/open_jar/9 0", *ls[2:]],
        [SPLIT, "no skeleton.txt", "open_jar/9"],
    ),
    ("label clash", lambda ls: [ls[0], ls[1].rsplit(" ", 1)[0] + " 2", *ls[2:]], [SPLIT, "label 2 is"]),
    ("bad line", lambda ls: [ls[0], "Subject_1/open_jar", *ls[2:]], [SPLIT + ":2", "expected"]),
    ("count mismatch", lambda ls: [ls[0].replace("24", "25"), *ls[1:]], [SPLIT, "promises 25"]),
    ("duplicate entry", lambda ls: [ls[0].replace("24", "25"), ls[1], ls[1], *ls[2:]], [SPLIT + ":3", "listed twice"]),
    ("entry before header", lambda ls: [ls[1], *ls], [SPLIT + ":1", "header"]),
]


@pytest.mark.parametrize("what, change, fragments", SPLIT_CASES, ids=[c[0] for c in SPLIT_CASES])
def test_split_file_catalogue(tmp_path, capsys, what, change, fragments):
    tree = make_tree(tmp_path / "t")
    edit_split(tree, change)
    expect_error(["data", "summary", "--data", str(tree)], capsys, *fragments)


def test_missing_split_entry_leaves_the_sequence_out_of_1_1(tmp_path, capsys):
    tree = make_tree(tmp_path / "t")
    edit_split(tree, lambda ls: [ls[0].replace("24", "23"), *ls[2:]])
    code, out, _ = run(["data", "summary", "--data", str(tree)], capsys)
    assert code == 0 and "official split: train 23  test 24" in out


def container(tmp_path, name, **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


GOOD = {
    "x_train_values": np.zeros((7, 63), np.float32),
    "x_train_offsets": np.array([0, 4, 7]),
    "x_test_values": np.zeros((3, 63), np.float32),
    "x_test_offsets": np.array([0, 3]),
    "y_train": np.array([1, 2]),
    "y_test": np.array([2]),
    "actions": np.array(["a", "b"]),
}
CONTAINER_CASES = [
    ("missing array", {"y_test": None}, "missing array(s) y_test"),
    (
        "wrong feature count",
        {"x_train_values": np.zeros((7, 62), np.float32)},
        "values must be [frames, 3 x joints] (FPHA: 63)",
    ),
    ("string values", {"x_train_values": np.full((7, 63), "a")}, "values must be numbers"),
    ("float offsets", {"x_train_offsets": np.array([0.0, 4.0, 7.0])}, "offsets integers"),
    ("offsets past the end", {"x_train_offsets": np.array([0, 4, 9])}, "offsets must rise"),
    ("empty sequence", {"x_train_offsets": np.array([0, 7, 7])}, "offsets must rise"),
    ("label out of range", {"y_train": np.array([1, 46])}, "y_train[1] = 46"),
    ("label count mismatch", {"y_train": np.array([1])}, "x_train has 2 sequences but y_train has 1"),
    ("NaN values", {"x_test_values": np.full((3, 63), np.nan, np.float32)}, "NaN"),
    ("string labels", {"y_test": np.array(["b"])}, "y_test must hold numbers"),
]


@pytest.mark.parametrize("what, change, fragment", CONTAINER_CASES, ids=[c[0] for c in CONTAINER_CASES])
def test_container_catalogue(tmp_path, capsys, what, change, fragment):
    arrays = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    path = container(tmp_path, "c.npz", **arrays)
    expect_error(["data", "summary", "--data", str(path)], capsys, str(path), fragment)


def test_good_container_and_foreign_files(tmp_path, capsys):
    code, out, _ = run(["data", "summary", "--data", str(container(tmp_path, "c.npz", **GOOD))], capsys)
    assert code == 0 and "sequences 3" in out
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    expect_error(["data", "summary", "--data", str(tmp_path / "junk.npz")], capsys, "junk.npz", "not a readable")
    (tmp_path / "c.pkl").write_bytes(pickle.dumps({"x_train": []}))
    expect_error(["data", "summary", "--data", str(tmp_path / "c.pkl")], capsys, "c.pkl", "--allow-pickle")
    expect_error(["data", "summary", "--data", str(tmp_path / "c.pkl"), "--allow-pickle"], capsys, "missing")
    (tmp_path / "bad.pkl").write_bytes(b"\x80\x04garbage")
    expect_error(["data", "summary", "--data", str(tmp_path / "bad.pkl"), "--allow-pickle"], capsys, "cannot unpickle")
    (tmp_path / "data.csv").write_text("1,2\n")
    expect_error(["data", "summary", "--data", str(tmp_path / "data.csv")], capsys, "unknown data format")


def test_paths_that_are_missing_or_of_the_wrong_kind(tmp_path, capsys):
    expect_error(["data", "summary", "--data", str(tmp_path / "nope")], capsys, "nope", "no such")
    tree = make_tree(tmp_path / "t")
    (tree / SKEL).unlink()
    (tree / SKEL).mkdir()
    expect_error(["data", "summary", "--data", str(tree)], capsys, SKEL, "cannot read")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    tree = make_tree(root / "t")
    assert (
        main(["train", "--data", str(tree), "--out", str(root), "--name", "r", "--epochs", "1", "--num-units", "4"])
        == 0
    )
    return root / "r", tree


def test_predict_reads_good_files_and_names_bad_ones(trained, tmp_path, capsys):
    run_dir, tree = trained
    npy = tmp_path / "seq.npy"
    hand = np.loadtxt(tree / SKEL)[:, 1:]
    np.save(npy, hand.reshape(-1, 21, 3))
    code, out, _ = run(["predict", str(run_dir), str(tree / SKEL), str(npy), "--top", "2"], capsys)
    assert code == 0 and len(out.splitlines()) == 2 and out.count(" 0.") == 4
    np.save(tmp_path / "metres.npy", hand / 1000)
    expect_error(["predict", str(run_dir), str(tmp_path / "metres.npy")], capsys, "metres.npy", "multiply by 1000")
    np.save(tmp_path / "noise.npy", np.random.default_rng(0).normal(300, 10, (12, 21, 3)))
    expect_error(["predict", str(run_dir), str(tmp_path / "noise.npy")], capsys, "noise.npy", "joint order")
    code, out, _ = run(["predict", str(run_dir), str(tmp_path / "noise.npy"), "--no-check"], capsys)
    assert code == 0 and "noise.npy: " in out
    bad = {"bad.npy": np.zeros((5, 62)), "nan.npy": np.full((5, 63), np.nan), "str.npy": np.array(["a"])}
    for name, value in bad.items():
        np.save(tmp_path / name, value)
        expect_error(["predict", str(run_dir), str(tmp_path / name)], capsys, name)
    (tmp_path / "empty.txt").write_text("")
    expect_error(["predict", str(run_dir), str(tmp_path / "empty.txt")], capsys, "empty.txt", "empty")
    expect_error(["predict", str(run_dir), str(tmp_path)], capsys, "is a directory")
    expect_error(["predict", str(run_dir), str(tmp_path / "none.txt")], capsys, "none.txt", "no such")
    expect_error(["predict", str(tmp_path), str(npy)], capsys, "no such checkpoint")
    (tmp_path / "best.pt").write_bytes(b"garbage")
    expect_error(["predict", str(tmp_path), str(npy)], capsys, "best.pt", "not a handrnn checkpoint")


CONFIG_CASES = [
    ("unknown key", "epochs: 1\nlearning_rate: 0.1\n", "unknown key 'learning_rate'"),
    ("string for int", "epochs: '3'\n", "epochs must be int"),
    ("bool for int", "epochs: true\n", "epochs must be int"),
    ("negative", "batch_size: -5\n", "batch_size must be at least 1"),
    ("bad choice", "lengths: crop\n", "lengths = 'crop'"),
    ("dropout out of range", "dropout: 1.5\n", "dropout must be in [0, 1)"),
    ("pickle from a file", "allow_pickle: true\n", "only be given on the command line"),
    ("name with a path", "name: ../../etc\n", "plain folder name"),
    ("out climbing up", "out: ../../elsewhere\n", "must not climb"),
    ("empty file", "", None),
    ("float written 1e-3", "lr: 1e-3\n", None),
    ("unknown feature", "features: pose,speed\n", "features = 'pose,speed'"),
    ("hrnn with global features", "model: hrnn\nfeatures: pose,dists\n", "must be per joint"),
    ("hand normalisation of features", "normalise: hand\nfeatures: pose\n", "features = 'xyz' only"),
    ("bidirectional hrnn", "model: hrnn\nbidirectional: true\n", "model rnn only"),
    ("bad pool", "pool: median\n", "pool = 'median'"),
    ("ema out of range", "ema: 1.0\n", "ema must be in [0, 1)"),
    ("bones out of range", "bones: 1.5\n", "bones must be in [0, 1)"),
    ("negative mixup", "mixup: -0.2\n", "mixup must not be negative"),
    ("negative warp", "warp: -0.3\n", "warp must not be negative"),
    ("negative drift", "drift: -10\n", "drift must not be negative"),
    ("mirror out of range", "mirror: 1.0\n", "mirror must be in [0, 1)"),
    ("negative distill", "members: 3\ndistill: -1\n", "distill must not be negative"),
    ("teacher without distill", "teacher: runs/t\n", "teacher = 'runs/t' needs distill > 0"),
    ("generations without distill", "generations: 2\n", "generations = 2 needs distill > 0"),
    ("zero generations", "generations: 0\n", "generations must be at least 1"),
    ("bad val_by", "val_by: person\n", "val_by = 'person'"),
    ("val_fold past the folds", "val_fraction: 0.2\nval_fold: 6\n", "val_fold must be in 1..5"),
    ("val_fold without validation", "val_fraction: 0\nval_fold: 1\n", "val_fold = 1 needs a validation part"),
    ("val_fold by subject", "val_by: subject\nval_fold: 1\n", "val_by subject"),
    ("negative val_fold", "val_fold: -1\n", "val_fold must not be negative"),
    ("zero members", "members: 0\n", "members must be at least 1"),
    ("zero frame_step", "frame_step: 0\n", "frame_step must be at least 1"),
    ("a list", "- 1\n", "must be a mapping"),
    ("broken YAML", "epochs: [1,\n", "not valid YAML"),
]


CHECKED_AFTER_LOADING = {
    "negative",
    "bad choice",
    "dropout out of range",
    "name with a path",
    "out climbing up",
    "unknown feature",
    "hrnn with global features",
    "hand normalisation of features",
    "bidirectional hrnn",
    "bad pool",
    "ema out of range",
    "bones out of range",
    "negative mixup",
    "negative warp",
    "negative drift",
    "mirror out of range",
    "negative distill",
    "teacher without distill",
    "generations without distill",
    "zero generations",
    "bad val_by",
    "val_fold past the folds",
    "val_fold without validation",
    "val_fold by subject",
    "negative val_fold",
    "zero members",
    "zero frame_step",
}


@pytest.mark.parametrize("what, text, fragment", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_config_file_catalogue(tmp_path, capsys, what, text, fragment):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    argv = ["train", "--config", str(cfg), "--data", str(tmp_path / "missing")]
    if fragment is None:  # a valid config: the run goes on to the (missing) data
        expect_error(argv, capsys, "missing", "no such")
    else:
        named_by = "config:" if what in CHECKED_AFTER_LOADING else str(cfg)  # the file, or the resolved config
        expect_error(argv, capsys, named_by, fragment)


@pytest.mark.parametrize(
    "flags, fragment",
    [
        (["--lr", "-1"], "lr must be positive"),
        (["--protocol", "x"], "protocol = 'x'"),
        (["--val-fraction", "0.9"], "val_fraction"),
        (["--fold", "9"], "fold 9"),
    ],
)
def test_bad_flags(tmp_path, capsys, flags, fragment):
    tree = make_tree(tmp_path / "t")
    expect_error(
        ["train", "--data", str(tree), "--out", str(tmp_path), "--epochs", "1", "--protocol", "cross-subject", *flags],
        capsys,
        fragment,
    )


def test_unparseable_flag_values_exit_2_via_argparse(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--epochs", "ten"])
    assert e.value.code == 2 and "invalid int value" in capsys.readouterr().err


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.lists(st.floats(-1000, 1000, width=32), min_size=63, max_size=63), min_size=1, max_size=6),
    st.sampled_from(["\n", "\r\n"]),
    st.integers(0, 5),
)
def test_parse_skeleton_round_trips_valid_files(tmp_path, rows, newline, start):
    path = tmp_path / "skeleton.txt"
    path.write_bytes(
        newline.join(f"{start + i:04d} " + " ".join(repr(v) for v in r) for i, r in enumerate(rows)).encode()
    )
    np.testing.assert_allclose(parse_skeleton(path), np.array(rows, dtype=np.float32), rtol=1e-6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_parse_skeleton_never_fails_uncleanly(tmp_path, content):
    path = tmp_path / "skeleton.txt"
    path.write_bytes(content)
    try:
        x = parse_skeleton(path)
    except HandRNNError as e:
        assert str(path) in str(e)
    else:
        assert x is None or (x.ndim == 2 and x.shape[1] == 63 and np.isfinite(x).all())
