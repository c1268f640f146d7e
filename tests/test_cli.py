import csv
import json
import re
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest

from handrnn.cli import main
from handrnn.config import from_dict
from handrnn.runs import RunDir, describe

from .conftest import train_tiny

SMALL = ["--num-units", "8", "--batch-size", "8", "--val-fraction", "0.2", "--protocol", "1:1"]


def train(tree, out, *extra):
    return main(["train", "--data", str(tree), "--out", str(out), *SMALL, *extra])


def metrics(run):
    with open(run / "metrics.csv") as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


def test_train_writes_a_complete_run_folder_and_evaluates(tree, tmp_path, capsys):
    assert train(tree, tmp_path, "--epochs", "3", "--name", "a", "--test-every-epoch") == 0
    run = tmp_path / "a"
    for name in ("config.json", "split.json", "metrics.csv", "last.pt", "best.pt", "results.json"):
        assert (run / name).is_file(), name
    results = json.loads((run / "results.json").read_text())
    assert results["sizes"] == {"train": 20, "val": 4, "test": 24} and 0 <= results["test_acc"] <= 1
    rows = metrics(run)
    assert [r["epoch"] for r in rows] == ["1", "2", "3"] and all(r["test_acc"] for r in rows)
    assert main(["evaluate", str(run)]) == 0
    report = json.loads((run / "evaluation-test-best.json").read_text())
    assert report["accuracy"] == pytest.approx(results["test_acc"])
    assert report["top5_accuracy"] >= report["accuracy"] and (run / "confusion-test-best.png").stat().st_size > 1000
    assert "accuracy" in capsys.readouterr().out


def test_same_seed_same_numbers_and_resume_matches(tree, tmp_path):
    train(tree, tmp_path, "--epochs", "4", "--name", "full")
    train(tree, tmp_path, "--epochs", "4", "--name", "again")
    assert metrics(tmp_path / "full") == metrics(tmp_path / "again")
    train(tree, tmp_path, "--epochs", "2", "--name", "part")
    assert main(["train", "--resume", str(tmp_path / "part"), "--epochs", "4"]) == 0
    assert metrics(tmp_path / "part") == metrics(tmp_path / "full")


def test_hrnn_and_cross_subject(tree, tmp_path):
    assert (
        main(
            [
                "train",
                "--data",
                str(tree),
                "--out",
                str(tmp_path),
                "--name",
                "h",
                "--model",
                "hrnn",
                "--num-units1",
                "4",
                "--epochs",
                "1",
                "--protocol",
                "cross-subject",
                "--lengths",
                "pack",
            ]
        )
        == 0
    )
    summary = json.loads((tmp_path / "h" / "results.json").read_text())
    assert set(summary["folds"]) == {"subject1", "subject2", "subject3"} and "test_acc_std" in summary


def test_yaml_config_and_flag_precedence(tree, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("epochs: 1\nnum_units: 4\nlr: 0.01\n")
    assert (
        main(
            ["train", "--config", str(cfg), "--data", str(tree), "--out", str(tmp_path), "--name", "y", "--lr", "0.002"]
        )
        == 0
    )
    saved = json.loads((tmp_path / "y" / "config.json").read_text())
    assert (saved["epochs"], saved["num_units"], saved["lr"]) == (1, 4, 0.002)


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("epochs: 1\nbogus: 3\n", "unknown key 'bogus'"),
        ("epochs: ten\n", "epochs must be int"),
        ("cell: transformer\n", "cell = 'transformer'"),
        ("- a\n- b\n", "must be a mapping"),
        ("a: [\n", "not valid YAML"),
    ],
)
def test_bad_config_files_fail_in_one_line(tree, tmp_path, capsys, yaml_text, message):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml_text)
    assert main(["train", "--config", str(cfg), "--data", str(tree), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith("handrnn: error:")


def test_refuses_to_overwrite_a_run(tree, tmp_path, capsys):
    train(tree, tmp_path, "--epochs", "1", "--name", "x")
    assert train(tree, tmp_path, "--epochs", "1", "--name", "x") == 2
    assert "already holds a run" in capsys.readouterr().err


def test_errors_reach_the_shell_without_traceback(tmp_path, capsys):
    p = subprocess.run(
        [sys.executable, "-m", "handrnn", "data", "summary", "--data", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
    )  # one interpreter shows the exit status reaching the shell; the others run in this one
    assert p.returncode == 2 and "Traceback" not in p.stderr and p.stderr.startswith("handrnn: error:"), p.stderr
    for args in (["evaluate", str(tmp_path)], ["train", "--data", str(tmp_path), "--batch-size", "0"]):
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert "Traceback" not in err and err.startswith("handrnn: error:"), err


@pytest.mark.fpha
def test_summary_and_short_training_on_real_fpha(fpha, tmp_path, capsys):
    assert main(["data", "summary", "--data", str(fpha)]) == 0
    out = capsys.readouterr().out
    assert "sequences 1175  frames 105459  actions 45  subjects 6" in out and "min 7" in out and "max 1151" in out
    assert (
        main(
            [
                "train",
                "--data",
                str(fpha),
                "--out",
                str(tmp_path),
                "--name",
                "r",
                "--epochs",
                "2",
                "--num-units",
                "32",
                "--protocol",
                "cw3",
            ]
        )
        == 0
    )
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert results["sizes"]["test"] == 225 and results["sizes"]["train"] + results["sizes"]["val"] == 950
    assert results["test_acc"] > 2 / 45  # better than chance after two epochs
    card = (tmp_path / "r" / "MODEL.md").read_text()  # the model card: data, results, provenance
    command = json.loads((tmp_path / "r" / "command.json").read_text())
    assert f"test accuracy {100 * results['test_acc']:.2f}%" in card and "protocol `cw3`" in card
    assert f"`{shlex.join(command['argv'])}`" in card and f"torch {command['torch']}" in card
    assert "225 test" in card and ("git commit " in card)


def test_every_preset_loads_and_flags_override_it(tmp_path, capsys):
    from handrnn.cli import config_from_args, get_parser, preset_names

    assert "best" in preset_names()
    for name in preset_names():
        cfg = config_from_args(get_parser().parse_args(["train", "--preset", name, "--epochs", "2"]))
        assert cfg.epochs == 2
    best = config_from_args(get_parser().parse_args(["train", "--preset", "best"]))
    assert best.bidirectional and best.features == "local,vel,orient" and best.lr == 1e-3
    xs = config_from_args(get_parser().parse_args(["train", "--preset", "best", "--protocol", "cross-subject"]))
    assert xs.features == "pose,vel" and xs.layer_norm and xs.members == 3  # by_protocol: features, bones
    assert xs.bones == 0.2 and best.bones == 0
    one = config_from_args(get_parser().parse_args(["train", "--preset", "best", "--protocol", "1:1"]))
    assert one.member_feature_names() == [("vel", "local", "orient"), ("pose", "vel"), ("vel", "local", "orient")]
    three = config_from_args(get_parser().parse_args(["train", "--preset", "best", "--protocol", "3:1"]))
    assert three.member_features == "" and xs.member_features == ""  # round 12 kept 3:1's; cross-subject's: none
    assert best.protocol == "cw3" and best.member_features == one.member_features  # round 14: cw3 as 1:1
    few = config_from_args(get_parser().parse_args(["train", "--preset", "best", "--protocol", "1:3"]))
    assert (few.features, few.bones, few.rotate, few.members) == ("pose,vel", 0.2, 45, 3)  # round 9's change
    assert few.member_feature_names() == [("pose", "vel"), ("vel", "local", "orient"), ("pose", "vel")]  # round 13
    assert few.drop == 0.1 and best.drop == xs.drop == one.drop == 0  # round 15: frame dropping on 1:3 only
    assert few.distill == one.distill == three.distill == best.distill == 1 and xs.distill == 0  # rounds 20, 21, 45, 46
    assert few.frame_step == 4 and one.frame_step == three.frame_step == 3  # rounds 33, 36 and 42: every 4th, 3rd
    assert best.frame_step == xs.frame_step == 1
    # min_steps 1800: 288 training sequences would train 200 epochs, the larger training parts the preset's 100
    assert [best.epochs_for(n) for n in (288, 600, 887, 950)] == [200, 100, 100, 100]
    assert few.min_steps == 3600 and few.epochs_for(288) == 400  # round 37: the 1:3 preset trains twice as long
    assert one.min_steps == 3600 and one.epochs_for(600) == 190  # round 48: the 1:1 preset too
    assert best.min_steps == three.min_steps == xs.min_steps == 1800
    assert one.warp == xs.warp == 0.5 and best.warp == few.warp == three.warp == 0  # rounds 49 and 47: uneven speed
    assert few.generations == 3 and one.generations == three.generations == 2  # rounds 52, 54, 53 and 59: generations
    assert one.all_generations and not (few.all_generations or three.all_generations or best.all_generations)  # 56, 60
    assert best.generations == xs.generations == 1
    assert few.phases and not (one.phases or three.phases or best.phases or xs.phases)  # round 55: 1:3 only
    assert main(["train", "--preset", "nonesuch"]) == 2
    assert "no preset named 'nonesuch'" in capsys.readouterr().err


def test_a_presets_by_protocol_changes_apply_to_that_protocol_only(tmp_path, monkeypatch, capsys):
    from handrnn import cli
    from handrnn.errors import HandRNNError

    preset = tmp_path / "p.yaml"
    preset.write_text("features: local,vel\nepochs: 7\nby_protocol:\n  cross-subject:\n    features: pose,vel\n")
    monkeypatch.setattr(cli, "preset_path", lambda name: preset)

    def config(*flags):
        return cli.config_from_args(cli.get_parser().parse_args(["train", "--preset", "p", *flags]))

    assert (config("--protocol", "cross-subject").features, config("--protocol", "1:1").features) == (
        "pose,vel",
        "local,vel",
    )
    assert config("--protocol", "cross-subject").epochs == 7  # the rest of the preset still holds
    assert config("--protocol", "cross-subject", "--features", "xyz").features == "xyz"  # flags win
    config_file = tmp_path / "c.yaml"
    config_file.write_text("protocol: cross-subject\n")
    assert config("--config", str(config_file)).features == "pose,vel"  # the protocol from a config file
    for bad, message in [
        ("by_protocol:\n  sideways:\n    epochs: 1\n", "'sideways' is not a protocol"),
        ("by_protocol:\n  1:1:\n    epochs: 1\n", "61 is not a protocol.*quote '1:1'"),
        ("by_protocol: 3\n", "by_protocol must map protocols"),
        ("by_protocol:\n  '1:1':\n    speeed: 1\n", "by_protocol: 1:1: unknown key 'speeed'"),
    ]:
        preset.write_text(bad)
        with pytest.raises(HandRNNError, match=message):
            config("--protocol", "1:1")


def test_min_steps_raises_the_epochs_of_a_small_training_part(tree, tmp_path):
    run = train_tiny(tree, tmp_path, "m", ["--batch-size", "4", "--val-fraction", "0", "--min-steps", "9"])
    train = len(json.loads((run / "split.json").read_text())["train"])
    epochs = max(1, -(-9 // -(-train // 4)))  # steps per epoch: ceil(train / 4); epochs: ceil(9 / that)
    assert epochs > 1 and len((run / "metrics.csv").read_text().splitlines()) == 1 + epochs
    config = json.loads((run / "config.json").read_text())
    assert (config["epochs"], config["min_steps"]) == (1, 9)  # the rule is kept, so a replay trains the same
    assert json.loads((run / "results.json").read_text())["epochs_run"] == epochs


def test_best_preset_trains_and_evaluates_on_a_small_tree(tree, tmp_path, capsys):
    argv = [
        "train",
        "--preset",
        "best",
        "--data",
        str(tree),
        "--out",
        str(tmp_path),
        "--name",
        "p",
        "--epochs",
        "2",
        "--num-units",
        "8",
        "--members",
        "2",
        "--protocol",
        "1:1",
        "--min-steps",
        "0",
    ]
    assert main(argv) == 0
    assert main(["evaluate", str(tmp_path / "p")]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_training_logs_into_the_run_folder_with_a_time_left(tree, tmp_path, capsys):
    argv = ["train", "--data", str(tree), "--out", str(tmp_path), "--name", "l", "--epochs", "3", "--num-units", "4"]
    assert main(argv) == 0
    log = (tmp_path / "l" / "train.log").read_text()
    assert log.count("epoch ") == 3 and "left)" in log.splitlines()[0] and "left)" not in log.splitlines()[-1]
    assert main(["train", "--resume", str(tmp_path / "l"), "--epochs", "4"]) == 0
    log = (tmp_path / "l" / "train.log").read_text()
    assert len(re.findall(r"epoch +\d+/", log)) == 4 and "resuming" in log  # the resumed session appends
    assert "epoch   1/3" in capsys.readouterr().err


def test_print_config_gives_yaml_that_loads_back_to_the_same_config(tmp_path, capsys):
    from handrnn.cli import config_from_args, get_parser

    assert main(["train", "--preset", "best", "--protocol", "3:1", "--print-config"]) == 0
    text = capsys.readouterr().out
    (tmp_path / "c.yaml").write_text(text)
    again = config_from_args(get_parser().parse_args(["train", "--config", str(tmp_path / "c.yaml")]))
    assert again == config_from_args(get_parser().parse_args(["train", "--preset", "best", "--protocol", "3:1"]))
    assert "lr: 0.001" in text and "protocol: '3:1'" in text


def test_device_choice(tree, tmp_path, capsys):
    import torch

    argv = ["train", "--data", str(tree), "--out", str(tmp_path), "--epochs", "1", "--num-units", "4"]
    assert main(argv + ["--name", "a", "--device", "auto", "--protocol", "1:1"]) == 0  # cuda when there is one
    if not torch.cuda.is_available():
        assert main(argv + ["--name", "c", "--device", "cuda"]) == 2
        assert "no CUDA device" in capsys.readouterr().err
    assert main(["train", "--data", str(tree), "--device", "tpu"]) == 2  # argparse names the choices


def test_a_cross_subject_folder_works_as_one_run(tree, tmp_path, capsys):
    argv = ["train", "--data", str(tree), "--out", str(tmp_path), "--name", "xs", "--protocol", "cross-subject"]
    assert main(argv + ["--epochs", "1", "--num-units", "4", "--val-fraction", "0.2"]) == 0
    parent = tmp_path / "xs"
    capsys.readouterr()
    assert main(["evaluate", str(parent)]) == 0
    out = capsys.readouterr().out
    pooled = json.loads((parent / "evaluation-test-best.json").read_text())
    folds = {
        f"subject{s}": json.loads((parent / f"subject{s}" / "evaluation-test-best.json").read_text()) for s in (1, 2, 3)
    }
    assert pooled["n"] == sum(f["n"] for f in folds.values()) == 48  # every sequence tested once, by its fold
    assert pooled["folds"] == {k: f["accuracy"] for k, f in folds.items()} and "per fold: subject1" in out
    cm = sum(np.array(f["confusion_matrix"]) for f in folds.values())
    assert pooled["confusion_matrix"] == cm.tolist() and pooled["accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    assert (parent / "confusion-test-best.png").stat().st_size > 1000
    assert main(["plot", str(parent), "--out", str(tmp_path / "xs.png")]) == 0
    capsys.readouterr()
    assert main(["table", str(parent)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert "cross-subject" in table[2] and [row.split(" | ")[0] for row in table[3:]] == [
        "| subject1",
        "| subject2",
        "| subject3",
    ]
    assert main(["predict", str(parent), str(tree / "Hand_pose_annotation_v1/Subject_1/open_jar/1/skeleton.txt")]) == 2
    assert "give one of them, e.g." in capsys.readouterr().err


def test_evaluate_member_tests_one_network_of_an_ensemble(tree, tmp_path, capsys):
    """evaluate --member K: the K-th network alone, on its own columns of the ensemble's input; its files are
    named -memberK; a member out of range, or of a one-network run, is a one-line error."""
    import torch

    from handrnn.data import SequenceSet
    from handrnn.datasets import load_data
    from handrnn.evaluation import load_model, split_indices
    from handrnn.training import predict

    flags = ["--members", "2", "--member-features", "pose,vel;xyz", "--features", "pose", "--grouped-kernel"]
    run = train_tiny(tree, tmp_path, "ens", flags)
    whole, encoder, _ = load_model(run)
    data = load_data(str(tree))
    index = split_indices(data, run, "test")
    seqs = SequenceSet([data.sequences[i] for i in index], data.labels[index], encoder)
    member_logits = [predict(m, seqs) for m in whole.members]
    probs = torch.stack([m.softmax(1) for m in member_logits]).mean(0)
    torch.testing.assert_close(predict(whole, seqs).softmax(1), probs)  # the whole is the members' mean
    for k, logits in enumerate(member_logits, 1):
        assert main(["evaluate", str(run), "--member", str(k)]) == 0
        assert f"ens member {k} (test" in capsys.readouterr().out
        report = json.loads((run / f"evaluation-test-best-member{k}.json").read_text())
        want = float((logits.argmax(1) == torch.as_tensor(data.labels[index])).float().mean())
        assert report["member"] == k and report["accuracy"] == pytest.approx(want)
        assert (run / f"misclassified-test-best-member{k}.csv").exists()
    assert main(["evaluate", str(run), "--member", "3"]) == 2
    assert "member must be in 1..2" in capsys.readouterr().err
    one = train_tiny(tree, tmp_path, "one", [])
    assert main(["evaluate", str(one), "--member", "1"]) == 2
    assert "trained one network, not an ensemble" in capsys.readouterr().err


def test_evaluate_tta_averages_the_sequence_and_variants_drawn_with_the_runs_augmentation(tree, tmp_path, capsys):
    """evaluate --tta N: the mean probability of each sequence and N-1 variants drawn with the run's training
    augmentation from a fixed seed (the same report every time, files named -ttaN); a run without augmentation,
    or N < 1, is a one-line error."""
    import numpy as np
    import torch

    import handrnn
    from handrnn.datasets import load_data
    from handrnn.evaluation import TTA_SEED, load_model, predict_views, split_indices
    from handrnn.runs import RunDir
    from handrnn.training import augmentation

    run = train_tiny(tree, tmp_path, "aug", ["--rotate", "40", "--speed", "0.3", "--scale", "0.2"])
    model, encoder, _ = load_model(run)
    data = load_data(str(tree))
    index = split_indices(data, run, "test")
    frames, labels = [data.sequences[i] for i in index], data.labels[index]
    augment = augmentation(RunDir(run).read_config())
    rng = np.random.default_rng([TTA_SEED, 11])
    views = [frames] + [[augment(f, rng) for f in frames] for _ in range(3)]
    probs = torch.stack([predict_views(model, v, labels, encoder, augment).softmax(1) for v in views])
    torch.testing.assert_close(predict_views(model, frames, labels, encoder, augment, 4).softmax(1), probs.mean(0))
    assert not torch.allclose(probs[0], probs[1])  # the variants are other inputs, not the sequence again
    clf = handrnn.load(run)  # the Python API draws the same views
    np.testing.assert_allclose(clf.predict_proba(frames, views=4), probs.mean(0).numpy(), rtol=1e-5, atol=1e-7)
    with pytest.raises(handrnn.HandRNNError, match="views must be at least 1"):
        clf.predict_proba(frames, views=0)

    assert main(["evaluate", str(run), "--tta", "4"]) == 0
    assert "aug, 4 views (test" in capsys.readouterr().out
    report = json.loads((run / "evaluation-test-best-tta4.json").read_text())
    want = float((probs.mean(0).argmax(1) == torch.as_tensor(labels)).float().mean())
    assert report["tta"] == 4 and report["accuracy"] == pytest.approx(want)
    assert (run / "misclassified-test-best-tta4.csv").exists() and (run / "confusion-test-best-tta4.png").exists()
    assert main(["evaluate", str(run), "--tta", "4", "--threads", "1"]) == 0  # the same views again
    assert json.loads((run / "evaluation-test-best-tta4.json").read_text()) == report
    assert main(["evaluate", str(run)]) == 0  # one view: the plain evaluation, under its own name
    assert json.loads((run / "evaluation-test-best.json").read_text())["tta"] == 1

    assert main(["evaluate", str(run), "--tta", "0"]) == 2
    assert "tta must be at least 1" in capsys.readouterr().err
    assert main(["evaluate", str(run), "--threads", "-1"]) == 2
    assert "--threads must be 0" in capsys.readouterr().err
    plain = train_tiny(tree, tmp_path, "plain", [])
    assert main(["evaluate", str(plain), "--tta", "2"]) == 2
    assert "this run had none" in capsys.readouterr().err


def test_evaluate_several_runs_averages_their_probabilities_on_the_part_they_share(tree, tmp_path, capsys):
    """evaluate RUN RUN --out DIR: the runs' mean probabilities on the sequences both held out, each run reading its
    own features; its report lists each run alone. Runs whose parts differ, a run given twice, --member, --out with
    one run and several runs without --out are one-line errors that write nothing."""
    import torch

    from handrnn.datasets import load_data
    from handrnn.evaluation import load_model, predict_views, split_indices

    a = train_tiny(tree, tmp_path, "a", ["--features", "pose"])
    b = train_tiny(tree, tmp_path, "b", ["--features", "xyz,vel", "--seed", "1"])
    data = load_data(str(tree))
    index = split_indices(data, a, "test")
    assert sorted(index) == sorted(split_indices(data, b, "test"))  # 1:1: the official test part, whatever the seed
    labels = torch.as_tensor(data.labels[index])
    probs = []
    for run in (a, b):
        model, encoder, _ = load_model(run)
        probs.append(
            predict_views(model, [data.sequences[i] for i in index], data.labels[index], encoder, None).softmax(1)
        )
    want = torch.stack(probs).mean(0)
    assert not torch.allclose(probs[0], probs[1])

    out = tmp_path / "ab"
    assert main(["evaluate", str(a), str(b), "--out", str(out), "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    assert f"2 runs together (test, best checkpoints, {len(index)} sequences)" in printed
    report = json.loads((out / "evaluation-test-best-combined.json").read_text())
    assert report["accuracy"] == pytest.approx(float((want.argmax(1) == labels).float().mean()))
    for run, p in zip((a, b), probs):
        assert report["runs"][str(run)]["accuracy"] == pytest.approx(float((p.argmax(1) == labels).float().mean()))
    assert report["n"] == len(index) and report["part"] == "test"
    assert (out / "confusion-test-best-combined.png").exists() and (
        out / "misclassified-test-best-combined.csv"
    ).exists()
    with open(out / "misclassified-test-best-combined.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == round((1 - report["accuracy"]) * len(index))

    bad = tmp_path / "bad"
    for argv, error in (
        ([str(a), str(b), "--out", str(bad), "--part", "val"], "its val part is not that of"),  # seeds 0 and 1
        ([str(a), str(a), "--out", str(bad)], "is given twice"),
        ([str(a), str(b), "--out", str(bad), "--member", "1"], "a combination takes each run whole"),
        ([str(a), "--out", str(bad)], "--out is for several runs"),
        ([str(a), str(b)], "give --out"),
        ([str(a), str(tmp_path / "nothing"), "--out", str(bad)], "nothing"),
        ([str(a), str(b), "--out", str(a / "config.json")], "a file, not a folder"),
    ):
        assert main(["evaluate", *argv]) == 2, argv
        err = capsys.readouterr().err
        assert error in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not bad.exists()


def test_distill_on_one_network_warns_and_trains(tree, tmp_path, capsys):
    train_tiny(tree, tmp_path, "d", ["--distill", "1"])
    assert "distill = 1.0 applies to ensembles; this run trains one network, so it is off" in capsys.readouterr().err


def test_a_student_learns_from_a_teacher_run_that_never_saw_its_validation_or_test_part(tree, tmp_path, capsys):
    import torch

    teacher = train_tiny(
        tree, tmp_path, "teacher", ["--members", "2", "--features", "pose,vel", "--val-fraction", "0.2"]
    )
    flags = ["--val-fraction", "0.2", "--distill", "1", "--epochs", "2", "--rotate", "10"]
    plain = train_tiny(tree, tmp_path, "plain", flags)
    assert "applies to ensembles" in capsys.readouterr().err  # without a teacher, one network has no peers
    student = train_tiny(tree, tmp_path, "student", [*flags, "--teacher", str(teacher)])
    assert "applies to ensembles" not in capsys.readouterr().err  # with a teacher, distill applies to one network
    assert json.loads((student / "config.json").read_text())["teacher"] == str(teacher)
    weights = [torch.load(run / "last.pt", weights_only=True)["model"]["head.weight"] for run in (plain, student)]
    assert not torch.equal(*weights)  # the teacher's term changed what the student learnt
    split = json.loads((student / "split.json").read_text())
    assert split == json.loads((plain / "split.json").read_text())  # and not which sequences it learnt from
    assert main(["train", "--resume", str(student)]) == 0  # a finished run resumes with its teacher, nothing to do


GENERATION_FLAGS = ["--members", "2", "--distill", "1", "--val-fraction", "0.2", "--epochs", "2", "--rotate", "10"]


def same_weights(a, b) -> bool:
    import torch

    wa, wb = (torch.load(run / "last.pt", weights_only=True)["model"] for run in (a, b))
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_generations_train_in_one_run_what_a_run_and_then_its_student_train(tree, tmp_path, capsys):
    """--generations 2 = a run, then a student taught by it (--teacher), in one command: the same weights and
    results; the first generation is kept inside the run folder, which is one run (no folds) named gen2."""
    first = train_tiny(tree, tmp_path, "first", GENERATION_FLAGS)
    second = train_tiny(tree, tmp_path, "second", [*GENERATION_FLAGS, "--teacher", str(first)])
    assert not same_weights(first, second)  # the teacher's term changed what the student learnt
    run = train_tiny(tree, tmp_path, "both", [*GENERATION_FLAGS, "--generations", "2"])
    for mine, alone in ((run / "generation1", first), (run, second)):
        assert same_weights(mine, alone), mine
        got, want = (json.loads((r / "results.json").read_text()) for r in (mine, alone))
        assert got["test_acc"] == want["test_acc"] and got["val_acc"] == want["val_acc"]
    config = json.loads((run / "config.json").read_text())
    assert (config["generations"], config["teacher"]) == (2, "")
    assert json.loads((run / "generation1" / "config.json").read_text())["generations"] == 1
    assert RunDir(run).folds() == []
    assert "generation 2 of 2, taught by generation1" in (run / "MODEL.md").read_text()
    capsys.readouterr()
    assert main(["table", str(run)]) == 0
    assert "gen2" in capsys.readouterr().out
    assert main(["evaluate", str(run)]) == 0
    report = json.loads((run / "evaluation-test-best.json").read_text())
    assert report["accuracy"] == pytest.approx(json.loads((run / "results.json").read_text())["test_acc"])


def test_all_generations_judge_a_run_with_every_generations_networks(tree, tmp_path, capsys):
    """--all-generations: the same training (last.pt as without it); validation, results.json, `evaluate`,
    `predict` and handrnn.load read the generations' networks as one ensemble, which is what `evaluate RUN
    RUN/generation1 --out DIR` gives for the generations of the same run made without the option; --member counts
    the networks of every generation."""
    import numpy as np
    import torch

    import handrnn
    from handrnn.datasets import load_data
    from handrnn.evaluation import split_indices

    flags = [*GENERATION_FLAGS, "--generations", "2", "--val-fraction", "0"]
    plain = train_tiny(tree, tmp_path, "plain", flags)
    run = train_tiny(tree, tmp_path, "all", [*flags, "--all-generations"])
    assert same_weights(run, plain) and same_weights(run / "generation1", plain / "generation1")
    assert main(["evaluate", str(plain), str(plain / "generation1"), "--out", str(tmp_path / "both")]) == 0
    both = json.loads((tmp_path / "both" / "evaluation-test-best-combined.json").read_text())
    results = json.loads((run / "results.json").read_text())
    alone = json.loads((plain / "results.json").read_text())
    assert results["test_acc"] == pytest.approx(both["accuracy"])
    assert results["test_loss"] == pytest.approx(both["loss"], rel=1e-5) and results["test_loss"] != alone["test_loss"]
    assert results["parameters"] == 2 * alone["parameters"]
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 0
    report = json.loads((run / "evaluation-test-best.json").read_text())
    assert report["loss"] == pytest.approx(both["loss"], rel=1e-5)

    clf = handrnn.load(run)
    assert len(clf.model.members) == 4  # two networks per generation
    data = load_data(str(tree))
    index = split_indices(data, run, "test")
    probs = clf.predict_proba([data.sequences[i] for i in index])
    labels = torch.as_tensor(data.labels[index])
    assert float(torch.nn.functional.nll_loss(torch.from_numpy(probs).log(), labels)) == pytest.approx(
        both["loss"], rel=1e-4
    )
    assert main(["evaluate", str(run), "--member", "4"]) == 0  # generation 2's second network
    assert main(["evaluate", str(run), "--member", "5"]) == 2
    assert "member must be in 1..4" in capsys.readouterr().err
    assert "read every generation's networks together" in (run / "MODEL.md").read_text()
    assert main(["table", str(run)]) == 0
    assert "gen2all" in capsys.readouterr().out
    assert np.allclose(probs.sum(1), 1)
    assert main(["export", str(run), "--format", "torchscript", "--out", str(tmp_path / "all.pt")]) == 0
    graph = torch.jit.load(str(tmp_path / "all.pt"))  # the exported graph holds every generation too
    first = data.sequences[index[0]]
    exported = graph(torch.as_tensor(first, dtype=torch.float32)[None])[0].detach().numpy()
    np.testing.assert_allclose(exported, clf.predict_proba(first)[0], rtol=1e-4, atol=1e-6)

    validated = train_tiny(tree, tmp_path, "validated", [*GENERATION_FLAGS, "--generations", "2", "--all-generations"])
    results = json.loads((validated / "results.json").read_text())
    for checkpoint, key in (("best", "test_loss"), ("last", "test_loss_last_epoch")):  # generation 1 at its best
        assert main(["evaluate", str(validated), "--checkpoint", checkpoint]) == 0
        report = json.loads((validated / f"evaluation-test-{checkpoint}.json").read_text())
        assert report["loss"] == pytest.approx(results[key], rel=1e-5), checkpoint


@pytest.mark.parametrize(
    "at, said, table_says",
    [
        (2, "generation 1 of 2: stopped in epoch 2; ", "in generation 1 of 2, 1 epoch(s) done"),
        (3, "stopped in epoch 1; no epoch had finished. ", "0 epoch(s) in metrics.csv, no results.json"),
    ],
    ids=["in generation 1", "in generation 2"],
)
def test_an_interrupted_generation_resumes_with_the_run(tree, tmp_path, capsys, monkeypatch, at, said, table_says):
    import handrnn.training as training

    whole = train_tiny(tree, tmp_path, "whole", [*GENERATION_FLAGS, "--generations", "2"])
    real, calls = training.run_epoch, {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == at:  # epoch 2 of generation 1, or epoch 1 of generation 2
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "run_epoch", interrupted)
    argv = ["train", "--data", str(tree), "--out", str(tmp_path), "--name", "cut", "--num-units", "6"]
    assert main([*argv, "--protocol", "1:1", "--threads", "1", *GENERATION_FLAGS, "--generations", "2"]) == 130
    err = capsys.readouterr().err
    assert said in err and err.strip().endswith(f"handrnn train --resume {tmp_path / 'cut'}"), err
    assert "Traceback" not in err
    assert main(["table", str(tmp_path / "cut")]) == 0
    assert f"unfinished: {table_says}" in capsys.readouterr().out
    monkeypatch.setattr(training, "run_epoch", real)
    assert main(["train", "--resume", str(tmp_path / "cut")]) == 0
    assert same_weights(tmp_path / "cut" / "generation1", whole / "generation1")
    assert same_weights(tmp_path / "cut", whole)


def test_a_refused_first_generation_leaves_the_name_free(tree, tmp_path, capsys):
    argv = ["train", "--data", str(tree), "--out", str(tmp_path), "--name", "g", "--epochs", "1", "--num-units", "6"]
    flags = ["--protocol", "1:1", "--distill", "1", "--generations", "2", "--teacher", str(tmp_path / "nowhere")]
    assert main([*argv, *flags]) == 2
    assert f"teacher: {tmp_path / 'nowhere'} is not a run folder" in capsys.readouterr().err
    assert not (tmp_path / "g" / "config.json").exists()
    assert main([*argv, *flags[:-2]]) == 0  # the same name, now without the bad teacher


def test_a_run_reading_every_other_frame_evaluates_as_it_trained_and_teaches_a_run_of_another_step(tree, tmp_path):
    flags = ["--frame-step", "2", "--members", "2", "--features", "pose,vel", "--val-fraction", "0.2", "--epochs", "2"]
    teacher = train_tiny(tree, tmp_path, "every-other", flags)
    config = json.loads((teacher / "config.json").read_text())
    assert config["frame_step"] == 2
    assert describe(from_dict(config, "config.json")).endswith(" every2")  # as tables name it
    assert main(["evaluate", str(teacher)]) == 0
    report = json.loads((teacher / "evaluation-test-best.json").read_text())
    assert report["accuracy"] == pytest.approx(json.loads((teacher / "results.json").read_text())["test_acc"])
    student = ["--val-fraction", "0.2", "--distill", "1", "--teacher", str(teacher), "--speed", "0.2"]
    assert train_tiny(tree, tmp_path, "student", student).joinpath("results.json").is_file()


def test_phases_average_every_phase_in_training_evaluate_predict_and_the_api(tree, tmp_path, capsys):
    """A run with --phases at frame step 3 reads each held-out sequence from frames 0, 1 and 2 and averages the
    probabilities: results.json, `evaluate` (files named -phases), `predict FILE` and handrnn.load agree with that
    mean computed one sequence at a time; `evaluate --no-phases` reads from frame 0 only, as a run without the
    option does; at frame step 1 there is one phase and nothing changes."""
    import numpy as np
    import torch

    import handrnn
    from handrnn.datasets import load_data
    from handrnn.evaluation import load_model, split_indices

    flags = ["--frame-step", "3", "--features", "pose,vel", "--speed", "0.2", "--val-fraction", "0.2", "--phases"]
    run = train_tiny(tree, tmp_path, "phases", [*flags, "--epochs", "2"])
    model, encoder, _ = load_model(run)
    data = load_data(str(tree))
    index = split_indices(data, run, "test")
    labels = torch.as_tensor(data.labels[index])

    def probs(starts) -> torch.Tensor:  # each sequence alone, the mean over the phases it has
        rows = []
        with torch.no_grad():
            for i in index:
                s = data.sequences[i]
                read = [torch.from_numpy(encoder(s[o:]))[None] for o in starts(len(s))]
                rows.append(torch.stack([model(x, torch.tensor([x.shape[1]])).softmax(1)[0] for x in read]).mean(0))
        return torch.stack(rows)

    every, first = probs(lambda t: range(min(3, t))), probs(lambda t: range(1))
    assert not torch.allclose(every, first)  # the other phases are other frames
    results = json.loads((run / "results.json").read_text())
    assert results["test_acc"] == pytest.approx(float((every.argmax(1) == labels).float().mean()))
    assert results["test_loss"] == pytest.approx(float(torch.nn.functional.nll_loss(every.log(), labels)), rel=1e-5)

    assert main(["evaluate", str(run)]) == 0  # as the run's config says: every phase
    assert "phases, every phase (test" in capsys.readouterr().out
    report = json.loads((run / "evaluation-test-best-phases.json").read_text())
    assert report["phases"] is True and report["accuracy"] == pytest.approx(results["test_acc"])
    assert report["loss"] == pytest.approx(results["test_loss"], rel=1e-5)
    assert main(["evaluate", str(run), "--no-phases"]) == 0
    plain = json.loads((run / "evaluation-test-best.json").read_text())
    assert plain["phases"] is False
    assert plain["loss"] == pytest.approx(float(torch.nn.functional.nll_loss(first.log(), labels)), rel=1e-5)
    assert "phases (test" in capsys.readouterr().out

    np.testing.assert_allclose(handrnn.load(run).predict_proba([data.sequences[i] for i in index]), every, rtol=1e-5)
    path = tree / "Hand_pose_annotation_v1" / data.ids[index[0]] / "skeleton.txt"
    assert main(["predict", str(run), str(path), "--json", "--top", "1"]) == 0
    (top,) = json.loads(capsys.readouterr().out.splitlines()[0])["top"]
    assert top == {"action": data.actions[int(every[0].argmax())], "probability": pytest.approx(float(every[0].max()))}

    other = train_tiny(tree, tmp_path, "no-phases", flags[:-1])  # the same run without the option
    assert main(["evaluate", str(other), "--phases"]) == 0
    assert json.loads((other / "evaluation-test-best-phases.json").read_text())["phases"] is True
    one_step = train_tiny(tree, tmp_path, "step1", ["--phases"])
    assert main(["evaluate", str(one_step)]) == 0
    assert json.loads((one_step / "evaluation-test-best.json").read_text())["phases"] is False


def test_a_teacher_that_trained_on_the_students_validation_part_is_refused(tree, tmp_path, capsys):
    teacher = train_tiny(tree, tmp_path, "teacher", ["--val-fraction", "0"])
    argv = ["train", "--data", str(tree), "--out", str(tmp_path), "--name", "s", "--epochs", "1", "--num-units", "6"]
    assert main([*argv, "--protocol", "1:1", "--val-fraction", "0.2", "--distill", "1", "--teacher", str(teacher)]) == 2
    err = capsys.readouterr().err
    assert f"teacher: {teacher} trained on " in err and "of this run's validation or test sequences" in err
    assert not (tmp_path / "s" / "config.json").exists()  # refused before the run started: the name is free
    assert main([*argv, "--protocol", "1:1", "--distill", "1", "--teacher", str(tmp_path / "nowhere")]) == 2
    assert f"teacher: {tmp_path / 'nowhere'} is not a run folder (no config.json)" in capsys.readouterr().err
    assert main([*argv, "--protocol", "1:1", "--teacher", str(teacher)]) == 2
    assert "needs distill > 0" in capsys.readouterr().err
    unfinished = tmp_path / "unfinished"
    shutil.copytree(teacher, unfinished)
    (unfinished / "results.json").unlink()  # as while it still trains: its best.pt is some early epoch's
    assert (
        main([*argv, "--protocol", "1:1", "--val-fraction", "0", "--distill", "1", "--teacher", str(unfinished)]) == 2
    )
    assert f"teacher: {unfinished} has not finished training (no results.json)" in capsys.readouterr().err
    assert main([*argv, "--protocol", "1:1", "--val-fraction", "0", "--distill", "1", "--teacher", str(teacher)]) == 0


def test_table_folds_groups_students_taught_by_their_own_folds_teacher(tree, tmp_path, capsys):
    """k-fold students (--teacher) each taught by the run of its own fold form one group per student config, though
    each fold's teacher path differs; a teacher of another config makes another group, named by the change."""
    fold = ["--val-fraction", "0.34", "--seed", "0"]
    teachers = {
        (units, f): train_tiny(tree, tmp_path, f"t{units}-f{f}", [*fold, "--val-fold", str(f), "--num-units", units])
        for units in ("6", "8")
        for f in (1, 2)
    }
    students = [
        train_tiny(
            tree,
            tmp_path,
            f"s{units}-d{d}-f{f}",
            [*fold, "--val-fold", str(f), "--distill", d, "--teacher", str(teachers[units, f])],
        )
        for units in ("6", "8")
        for d in ("1", "2")
        for f in (1, 2)
    ]
    capsys.readouterr()
    assert main(["table", "--folds", *map(str, students)]) == 0
    rows = [row.split(" | ") for row in capsys.readouterr().out.splitlines()[2:]]
    assert sorted(row[0] for row in rows) == [f"| s{u}-d{d}-f1, s{u}-d{d}-f2" for u in "68" for d in "12"]
    assert all(row[4] == "1, 2 of 3" for row in rows)
    assert all("its fold's run of " in row[2] and "distill=" in row[2] for row in rows)
    assert len({row[2] for row in rows}) == 4  # the teacher's units tell two of the groups from the other two
    third = [  # taught by the students of their folds, themselves taught: one group too
        train_tiny(tree, tmp_path, f"g3-f{f}", [*fold, "--val-fold", str(f), "--distill", "1", "--teacher", str(s)])
        for f, s in ((1, tmp_path / "s6-d1-f1"), (2, tmp_path / "s6-d1-f2"))
    ]
    capsys.readouterr()
    assert main(["table", "--folds", *map(str, third)]) == 0
    (row,) = [row.split(" | ") for row in capsys.readouterr().out.splitlines()[2:]]
    assert row[0] == "| g3-f1, g3-f2" and row[4] == "1, 2 of 3"


def test_table_folds_sums_each_configs_validation_over_its_folds(tree, tmp_path, capsys):
    """table --folds: runs that differ only in --val-fold form one row, their last-epoch validation counts (the
    ones `evaluate --part val --checkpoint last` gives) summed, best first, the differing field named; a fold
    missing shows as fewer folds; a run made without --val-fold, an unfinished one, or one fold twice is a
    one-line error."""
    runs = {}
    for name, flags in [("u4", ["--num-units", "4"]), ("u8", ["--num-units", "8"])]:
        for fold in (1, 2):
            argv = [*flags, "--epochs", "4", "--val-fraction", "0.34", "--val-fold", str(fold)]
            runs[name, fold] = train_tiny(tree, tmp_path, f"{name}-f{fold}", argv)
    right = {}
    for key, run in runs.items():
        assert main(["evaluate", str(run), "--part", "val", "--checkpoint", "last"]) == 0
        report = json.loads((run / "evaluation-val-last.json").read_text())
        right[key] = round(report["accuracy"] * report["n"])
    capsys.readouterr()
    assert main(["table", "--folds", *map(str, runs.values())]) == 0
    rows = [row.split(" | ") for row in capsys.readouterr().out.splitlines()[2:]]
    assert len(rows) == 2
    totals = {name: sum(right[name, f] for f in (1, 2)) for name in ("u4", "u8")}
    n = sum(json.loads((runs["u4", f] / "results.json").read_text())["sizes"]["val"] for f in (1, 2))
    for row in rows:
        name = "u4" if "num_units=4" in row[2] else "u8"
        assert row[0] == f"| {name}-f1, {name}-f2" and row[4] == "1, 2 of 3"
        assert row[5] == f"{totals[name]}/{n} ({right[name, 1]}/{right[name, 2]})"
    first = "u4" if "num_units=4" in rows[0][2] else "u8"
    assert totals[first] >= totals["u8" if first == "u4" else "u4"]  # best first
    assert main(["table", "--folds", str(runs["u4", 1]), str(runs["u8", 1]), str(runs["u8", 2])]) == 0
    assert "| 1 of 3 | " in capsys.readouterr().out

    plain = train_tiny(tree, tmp_path, "plain", [])
    twice = tmp_path / "twice"
    shutil.copytree(runs["u4", 1], twice)
    unfinished = tmp_path / "unfinished"
    shutil.copytree(runs["u4", 2], unfinished)
    (unfinished / "results.json").unlink()
    cases = [(plain, "not a k-fold run"), (twice, "fold 1 twice"), (unfinished, "unfinished")]
    for extra, message in cases + [(tmp_path / "missing", "not a run folder")]:
        capsys.readouterr()
        assert main(["table", "--folds", str(runs["u4", 1]), str(extra)]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
