"""Run folders as an adversary would use them: files that ask to unpickle, changed data, two trainers at once."""

import fcntl
import json
import os
import shutil

import pytest

from handrnn.cli import main
from handrnn.runs import LOCK

from .conftest import make_tree

ARGS = ["--epochs", "2", "--num-units", "4", "--protocol", "1:1"]


def errors(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("handrnn: error:")]


@pytest.fixture
def run(tmp_path):
    tree = make_tree(tmp_path / "t")
    assert main(["train", "--data", str(tree), "--out", str(tmp_path), "--name", "r", *ARGS]) == 0
    return tmp_path / "r", tree


def test_a_run_folder_cannot_give_consent_to_unpickle(run, tmp_path, capsys):
    run_dir, tree = run
    assert main(["data", "convert", "--data", str(tree), "--out", str(tmp_path / "c.pkl"), "--protocol", "1:1"]) == 0
    cfg = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**cfg, "allow_pickle": True, "data": str(tmp_path / "c.pkl")}))
    capsys.readouterr()
    assert main(["evaluate", str(run_dir)]) == 2
    assert "--allow-pickle" in errors(capsys)[0]
    assert main(["train", "--resume", str(run_dir), "--epochs", "3"]) == 2
    assert "--allow-pickle" in errors(capsys)[0]


def test_resume_and_evaluate_refuse_changed_data(run, tmp_path, capsys):
    run_dir, tree = run
    changed = tmp_path / "changed"
    shutil.copytree(tree, changed)
    skeleton = changed / "Hand_pose_annotation_v1/Subject_1/open_jar/2/skeleton.txt"  # a test sequence (even rep)
    lines = skeleton.read_text().splitlines()
    skeleton.write_text("\n".join(lines[:-1]) + "\n")  # one frame fewer
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--data", str(changed)]) == 2
    assert "test data differs" in errors(capsys)[0]
    assert main(["train", "--resume", str(run_dir), "--epochs", "3", "--data", str(changed)]) == 2
    assert "differs from the data this run was trained on" in errors(capsys)[0]
    assert main(["evaluate", str(run_dir), "--data", str(tree)]) == 0  # the run's own data still works


def test_a_second_trainer_of_the_same_folder_stops_with_a_message(run, tmp_path, capsys):
    run_dir, tree = run
    with open(run_dir / LOCK, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another process trains here
        capsys.readouterr()
        assert main(["train", "--resume", str(run_dir), "--epochs", "3"]) == 2
        assert "in use by another handrnn process" in errors(capsys)[0]
    assert main(["train", "--resume", str(run_dir), "--epochs", "3"]) == 0


def test_a_run_replays_from_its_own_config_with_identical_metrics(run, tmp_path):
    run_dir, _ = run
    replay = ["train", "--config", str(run_dir / "config.json"), "--name", "again"]
    assert main(replay) == 0
    strip = lambda p: [r.rsplit(",", 1)[0] for r in p.read_text().splitlines()]  # noqa: E731 - all but seconds
    assert len(strip(run_dir / "metrics.csv")) == 3
    assert strip(tmp_path / "again" / "metrics.csv") == strip(run_dir / "metrics.csv")


def test_resume_of_a_folder_without_a_run_creates_nothing(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    assert "not a run folder" in errors(capsys)[0] and not (tmp_path / "nothing").exists()


def test_cross_subject_resumes_as_a_whole_or_one_fold_in_place(tmp_path, capsys):
    tree = make_tree(tmp_path / "t")
    argv = ["train", "--data", str(tree), "--out", str(tmp_path), "--name", "xs", "--protocol", "cross-subject"]
    assert main([*argv, "--epochs", "1", "--num-units", "4"]) == 0
    xs = tmp_path / "xs"
    assert main(argv + ["--epochs", "1"]) == 2  # the parent holds the run
    assert "already holds a run" in errors(capsys)[0]
    assert main(["train", "--resume", str(xs), "--epochs", "2"]) == 0
    rows = {f: (xs / f / "metrics.csv").read_text().count("\n") - 1 for f in ("subject1", "subject2", "subject3")}
    assert rows == {"subject1": 2, "subject2": 2, "subject3": 2}
    assert main(["train", "--resume", str(xs / "subject2"), "--epochs", "3"]) == 0
    assert (xs / "subject2" / "metrics.csv").read_text().count("\n") - 1 == 3
    assert not (xs / "subject2" / "subject1").exists()  # no folds nested inside a fold
    assert json.loads((xs / "results.json").read_text())["folds"].keys() == {"subject1", "subject2", "subject3"}


def test_an_empty_validation_part_keeps_the_last_epoch_with_a_warning(tmp_path, capsys):
    tree = make_tree(tmp_path / "t", subjects=1, reps=2)  # 1:1 leaves one training sequence per action
    argv = ["train", "--data", str(tree), "--out", str(tmp_path), "--name", "v", "--protocol", "1:1"]
    assert main([*argv, "--epochs", "2", "--num-units", "4"]) == 0
    assert "validation part is empty" in capsys.readouterr().err
    assert json.loads((tmp_path / "v" / "results.json").read_text())["best_epoch"] == 2


@pytest.mark.parametrize("seed", ["-1", str(2**40)])
def test_a_seed_out_of_range_is_one_line(tmp_path, capsys, seed):
    assert main(["train", "--data", str(tmp_path), "--seed", seed]) == 2
    assert "seed must" in errors(capsys)[0]


def test_convert_keeps_a_containers_own_split_unless_asked(tmp_path, capsys):
    from handrnn.datasets import load_data

    tree = make_tree(tmp_path / "t", reps=6)
    assert main(["data", "convert", "--data", str(tree), "--out", str(tmp_path / "a.npz"), "--protocol", "1:1"]) == 0
    assert main(["data", "convert", "--data", str(tmp_path / "a.npz"), "--out", str(tmp_path / "b.npz")]) == 0
    assert "the container's own split" in capsys.readouterr().out
    a, b = load_data(tmp_path / "a.npz"), load_data(tmp_path / "b.npz")
    assert (a.split == 1).sum() == (b.split == 1).sum() == 36  # even reps: half of the 72 sequences
    assert (
        main(
            [
                "data",
                "convert",
                "--data",
                str(tmp_path / "a.npz"),
                "--out",
                str(tmp_path / "c.npz"),
                "--protocol",
                "cw3",
            ]
        )
        == 0
    )
    assert (load_data(tmp_path / "c.npz").split == 1).sum() == 5 * 4  # asked for: cw3's 5 per action


def test_plot_into_a_new_folder_and_a_damaged_metrics_file(run, tmp_path, capsys):
    run_dir, _ = run
    assert main(["plot", str(run_dir), "--out", str(tmp_path / "new" / "folder" / "c.png")]) == 0
    assert (tmp_path / "new" / "folder" / "c.png").read_bytes()[:4] == b"\x89PNG"
    (run_dir / "metrics.csv").write_text("epoch,train_loss\n1,abc\n")
    capsys.readouterr()
    assert main(["plot", str(run_dir), "--out", str(tmp_path / "d.png")]) == 2
    assert "not a readable metrics file" in errors(capsys)[0]
    (run_dir / "metrics.csv").write_bytes(b"epoch,train_loss\n1,abc\n\x00\xff\n")  # damaged, not even UTF-8
    (run_dir / "results.json").unlink()
    assert main(["table", str(run_dir)]) == 0
    assert "unfinished: 2 epoch(s)" in capsys.readouterr().out
    (run_dir / "results.json").write_text("{bad")
    assert main(["table", str(run_dir)]) == 2
    assert "results.json: cannot read the run's results" in errors(capsys)[0]


# ---- issue 11, item 10: one line and exit 2 where a traceback used to reach the user


def one_line(capsys, code, *words):
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for w in words:
        assert w in err, (w, err)


def test_unwritable_places_and_overlong_paths_are_one_line(tree, tmp_path, capsys):
    argv = ["train", "--data", str(tree), "--epochs", "1", "--num-units", "4"]
    one_line(capsys, main(argv + ["--out", "/proc/handrnn-runs"]), "/proc/handrnn-runs")  # no folder can be made there
    one_line(capsys, main(argv + ["--out", str(tmp_path), "--name", "n" * 300]), "name too long")


def test_odd_folders_and_files_are_one_line(tmp_path, capsys):
    tree = make_tree(tmp_path / "t")
    shutil.copytree(tree / "Hand_pose_annotation_v1" / "Subject_1", tree / "Hand_pose_annotation_v1" / "Subject_x")
    one_line(capsys, main(["data", "summary", "--data", str(tree)]), "Subject_<number>", "'Subject_x'")
    tree = make_tree(tmp_path / "u")
    weird = os.fsencode(tree / "Hand_pose_annotation_v1" / "Subject_1" / "open_jar") + b"/\xff"
    os.makedirs(weird)
    shutil.copy(tree / "Hand_pose_annotation_v1/Subject_1/open_jar/1/skeleton.txt", weird + b"/skeleton.txt")
    code = main(["data", "summary", "--data", str(tree)])
    err = capsys.readouterr().err
    assert "Traceback" not in err and (code == 0 or len(err.strip().splitlines()) == 1)


def test_a_zero_byte_npy_and_a_foreign_checkpoint_are_one_line(run, tmp_path, capsys):
    import torch

    run, _ = run
    (tmp_path / "empty.npy").write_bytes(b"")
    one_line(capsys, main(["predict", str(run), str(tmp_path / "empty.npy")]), "empty.npy", "not a readable .npy")
    foreign = tmp_path / "foreign"
    shutil.copytree(run, foreign)
    torch.save({"weights": torch.zeros(3)}, foreign / "best.pt")
    skel = tmp_path / "s.npy"
    import numpy as np

    from .conftest import hand_pose

    np.save(skel, np.stack([hand_pose(np.random.default_rng(0)) + 300] * 5))
    one_line(capsys, main(["predict", str(foreign), str(skel)]), "best.pt", "not a checkpoint this handrnn can load")


def test_an_edited_config_is_one_line(run, tmp_path, capsys):
    run, _ = run
    cfg = json.loads((run / "config.json").read_text())
    cfg["num_units"] = "many"
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    one_line(capsys, main(["train", "--config", str(tmp_path / "c.json"), "--out", str(tmp_path)]), "num_units")


# ---- item 11: no output is written through a symbolic link


def test_outputs_refuse_links_and_temp_names_are_unpredictable(run, tmp_path, capsys):
    run, tree = run
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = run / "evaluation-test-best.json"
    link.unlink(missing_ok=True)
    link.symlink_to(victim)
    one_line(capsys, main(["evaluate", str(run)]), "symbolic link")
    assert victim.read_text() == "precious"
    link.unlink()
    planted = run / ".results.json.tmp"  # the old, predictable temporary name
    planted.symlink_to(victim)
    from handrnn.runs import write_json

    write_json(run / "results2.json", {"a": 1})
    assert victim.read_text() == "precious" and json.loads((run / "results2.json").read_text()) == {"a": 1}
    lock = tmp_path / "r2"
    lock.mkdir()
    (lock / LOCK).symlink_to(victim)
    one_line(capsys, main(["train", "--data", str(tree), "--out", str(tmp_path), "--name", "r2"]), "cannot lock")
    assert victim.read_text() == "precious"


# ---- item 12: unbounded inputs


def test_a_pipe_is_refused_and_a_long_file_parses_in_numpy_with_a_warning(tmp_path, capsys, caplog):
    import numpy as np

    from handrnn.datasets import parse_skeleton

    from .conftest import hand_pose

    tree = make_tree(tmp_path / "t")
    skel = tree / "Hand_pose_annotation_v1/Subject_1/open_jar/1/skeleton.txt"
    skel.unlink()
    os.mkfifo(skel)  # reading it would wait forever for a writer
    one_line(capsys, main(["data", "summary", "--data", str(tree)]), "a pipe, not a regular file")
    hand = hand_pose(np.random.default_rng(0)).reshape(-1) + 300
    long = tmp_path / "long.txt"
    with open(long, "w") as f:
        for t in range(25_000):
            f.write(f"{t} " + " ".join(f"{v + 0.01 * t:.3f}" for v in hand) + "\n")
    x = parse_skeleton(long)
    assert x.shape == (25_000, 63) and abs(float(x[-1, 0]) - (hand[0] + 249.99)) < 1e-2
    assert "far beyond FPHA's longest" in caplog.text
    bad = tmp_path / "bad.txt"
    bad.write_text(long.read_text().splitlines()[0] + "\n1 2 3\n")
    with pytest.raises(Exception, match="bad.txt:2: expected 64 columns"):
        parse_skeleton(bad)


def test_a_run_that_cannot_start_leaves_no_folder(tmp_path, capsys):
    out = tmp_path / "runs"
    one_line(capsys, main(["train", "--data", str(tmp_path / "missing"), "--out", str(out), "--name", "r"]), "missing")
    assert not out.exists()  # bad data stops the run before its folder is made
