import csv
import json
import multiprocessing
import os
import uuid

import pytest

from handrnn.cli import main
from handrnn.config import Config
from handrnn.datasets import load_data
from handrnn.errors import HandRNNError
from handrnn.runs import RunDir
from handrnn.study import make_study
from handrnn.sweep import (
    Space,
    Sweep,
    claim,
    estimate_left,
    grid_points,
    make_space,
    open_study,
    parse_grid,
    parse_ranges,
    point_config,
    run_sweep,
)


def test_parse_grid_types_and_errors():
    assert parse_grid(["num-units=8,16", "lr=1e-3,1e-2", "fused=true,false"]) == {
        "num_units": [8, 16],
        "lr": [0.001, 0.01],
        "fused": [True, False],
    }
    for spec, message in [
        ("num_units", "FIELD=V1"),
        ("units=3", "not a field"),
        ("num_units=a", "not a valid int"),
        ("out=x", "not a field"),
        ("threads=1,2", "not a field"),
        ("fused=maybe", "not a valid bool"),
        ("num_units=8,8", "listed twice"),
    ]:
        with pytest.raises(HandRNNError, match=message):
            parse_grid([spec])


def test_parse_ranges_and_space_errors():
    ranges = parse_ranges(["lr=1e-4:1e-2:log", "num-units=16:64"])
    assert ranges["lr"].log and not ranges["lr"].integer and ranges["lr"].low == 1e-4
    assert ranges["num_units"].integer and (ranges["num_units"].low, ranges["num_units"].high) == (16, 64)
    for spec, message in [
        ("lr=1e-2", "LOW:HIGH"),
        ("lr=1:2:ln", "LOW:HIGH"),
        ("lr=1e-2:1e-4", "LOW < HIGH"),
        ("lr=0:1:log", "LOW > 0"),
        ("cell=a:b", "not a number"),
        ("seed=x:3", "not a valid int"),
    ]:
        with pytest.raises(HandRNNError, match=message):
            parse_ranges([spec])
    with pytest.raises(HandRNNError, match="either --grid or --range"):
        make_space(["lr=1e-3,1e-2"], ["lr=1e-4:1e-2"])
    with pytest.raises(HandRNNError, match="at least one"):
        make_space([], [])


def test_trial_folders_are_named_by_the_whole_config():
    points = grid_points(Config(epochs=3), {"num_units": [8, 16], "batch_size": [5, 50]})
    assert [n.rsplit("-", 1)[0] for n, _ in points] == [
        "num_units=8-batch_size=5",
        "num_units=8-batch_size=50",
        "num_units=16-batch_size=5",
        "num_units=16-batch_size=50",
    ]
    assert all(c.epochs == 3 for _, c in points) and points[3][1].num_units == 16
    other = grid_points(Config(epochs=4), {"num_units": [8, 16], "batch_size": [5, 50]})
    assert not {n for n, _ in points} & {n for n, _ in other}  # another base config: other folders
    same = grid_points(Config(epochs=3, data="elsewhere", threads=2), {"num_units": [8, 16], "batch_size": [5, 50]})
    assert [n for n, _ in same] == [n for n, _ in points]  # where the data lies and threads do not count
    with pytest.raises(HandRNNError, match="batch_size must be at least 1"):
        grid_points(Config(), {"batch_size": [0]})


def base(tree, **kw) -> Config:
    return Config(**{"data": str(tree), "protocol": "1:1", "epochs": 2, "num_units": 4, "threads": 1, **kw})


def trials_of(sweep):
    return open_study(sweep).get_trials(deepcopy=False)


@pytest.fixture
def postgres_url():
    url = os.environ.get("HANDRNN_TEST_POSTGRES")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but HANDRNN_TEST_POSTGRES is not set: .ci/run starts the server")
        pytest.skip("no PostgreSQL server: run the tests through .ci/run")
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage(request):
    return "" if request.param == "sqlite" else request.getfixturevalue("postgres_url")


def test_two_workers_run_every_point_exactly_once(tree, tmp_path, storage):
    space = Space(parse_grid(["num_units=4,8", "lr=1e-3,1e-2"]))
    out = tmp_path / f"s{uuid.uuid4().hex[:8]}"  # a new study, also on a server that outlives the test
    sweep = Sweep(base(tree), space, out, storage)
    rows = run_sweep(sweep, load_data(tree), workers=2)
    trials = trials_of(sweep)
    assert len(trials) == 4 and all(t.state.name == "COMPLETE" for t in trials)
    assert sorted(json.dumps(t.params, sort_keys=True) for t in trials) == sorted(
        json.dumps(p, sort_keys=True) for p in space.points()
    )
    folders = sorted((out / "trials").iterdir())
    assert len(folders) == 4 and {r["run"] for r in rows} == {f"trials/{f.name}" for f in folders}
    for f in folders:  # each trained once: two epochs, one train.log
        assert len((f / "metrics.csv").read_text().splitlines()) == 3
        assert RunDir(f).read_config().threads == 1
    assert {t.user_attrs["host"] for t in trials} and all("test_acc" in t.user_attrs for t in trials)
    if not storage:
        assert (out / "study.db").is_file()
    before = {f.name: (f / "metrics.csv").stat().st_mtime_ns for f in folders}
    run_sweep(Sweep(base(tree), space, out, storage), load_data(tree), workers=2)  # a finished sweep: nothing runs
    assert len(trials_of(sweep)) == 4
    assert {f.name: (f / "metrics.csv").stat().st_mtime_ns for f in folders} == before


def test_a_changed_base_config_trains_its_own_points(tree, tmp_path):
    space = Space(parse_grid(["num_units=4,8"]))
    data = load_data(tree)
    run_sweep(Sweep(base(tree), space, tmp_path / "s"), data)
    rows = run_sweep(Sweep(base(tree, batch_size=7), space, tmp_path / "s"), data)
    folders = list((tmp_path / "s" / "trials").iterdir())
    assert len(folders) == 4  # nothing of the first sweep was reused
    assert all(RunDir(tmp_path / "s" / r["run"]).read_config().batch_size == 7 for r in rows)


def test_trials_stored_before_a_config_field_existed_are_kept(tree, tmp_path):
    # the CW3 study's base point, named before Config.joints existed: a new field at the value that trains what
    # runs did before it (ADDED_LATER) leaves every digest as it was; register a field there when adding one
    study = make_study("cw3", "quick", 1, "", "x", 1)
    assert point_config(study.base, {})[0] == "base-f7864e64e4"
    assert point_config(study.base, {"joints": 21})[0] == "joints=21-f7864e64e4"
    assert point_config(study.base, {"joints": 5})[0].rsplit("-", 1)[1] != "f7864e64e4"
    space, data = Space(parse_grid(["num_units=4"])), load_data(tree)
    run_sweep(Sweep(base(tree), space, tmp_path / "s"), data)
    (folder,) = (tmp_path / "s" / "trials").iterdir()
    config = json.loads((folder / "config.json").read_text())
    assert config.pop("joints") == 21
    (folder / "config.json").write_text(json.dumps(config))  # as an earlier handrnn wrote it
    before = (folder / "metrics.csv").stat().st_mtime_ns
    (tmp_path / "s" / "study.db").unlink()  # a new study over the old trial folders: read back, not retrained
    sweep = Sweep(base(tree), space, tmp_path / "s")
    assert estimate_left(open_study(sweep), sweep, data, 1) == "about 0:00 left (estimate)"
    rows = run_sweep(sweep, data)
    assert len(rows) == 1 and (folder / "metrics.csv").stat().st_mtime_ns == before
    rows = run_sweep(Sweep(base(tree, epochs=3), space, tmp_path / "s"), data)
    assert len(list((tmp_path / "s" / "trials").iterdir())) == 2


def test_each_seed_makes_its_own_split_and_selection_averages_seeds(tree, tmp_path):
    space = Space(parse_grid(["seed=0,1", "num_units=4,8"]))
    cfg = Config(data=str(tree), protocol="cw3", epochs=1, threads=1)
    sweep = Sweep(cfg, space, tmp_path / "s")
    rows = run_sweep(sweep, load_data(tree))
    splits = {}
    for r in rows:
        run = RunDir(tmp_path / "s" / r["run"])
        assert run.read_config().seed == r["seed"]
        splits.setdefault(r["seed"], set()).add(tuple(json.loads((run.path / "split.json").read_text())["test"]))
    assert all(len(s) == 1 for s in splits.values()) and splits[0] != splits[1]  # cw3's split follows the seed
    chosen = json.loads((tmp_path / "s" / "sweep.json").read_text())["selected_by_val"]
    assert chosen["seeds"] == [0, 1]
    mean = sum(r["val_acc"] for r in rows if r["num_units"] == chosen["num_units"]) / 2
    assert chosen["val_acc"] == pytest.approx(mean)


def test_a_failing_point_is_recorded_and_the_sweep_goes_on(tree, tmp_path, monkeypatch):
    import handrnn.training as training

    real_fit = training.fit

    def fit(cfg, *args, **kwargs):
        if cfg.num_units == 8:
            raise HandRNNError("training diverged: the loss is NaN or infinite")
        return real_fit(cfg, *args, **kwargs)

    monkeypatch.setattr(training, "fit", fit)
    sweep = Sweep(base(tree), Space(parse_grid(["num_units=4,8,12"])), tmp_path / "s")
    rows = run_sweep(sweep, load_data(tree))
    states = {r["num_units"]: (r["state"], r["error"]) for r in rows}
    assert states == {
        4: ("complete", ""),
        8: ("failed", "training diverged: the loss is NaN or infinite"),
        12: ("complete", ""),
    }
    assert run_sweep(sweep, load_data(tree))[1]["state"] == "failed"  # a rerun keeps a failure
    monkeypatch.setattr(training, "fit", real_fit)
    rows = run_sweep(sweep, load_data(tree), retry=True)
    assert [r["state"] for r in rows] == ["complete"] * 3


def test_an_interrupted_sweep_finishes_what_is_missing(tree, tmp_path, monkeypatch):
    import handrnn.training as training

    real_fit = training.fit

    def fit(cfg, *args, **kwargs):
        if cfg.num_units == 8:
            raise KeyboardInterrupt
        return real_fit(cfg, *args, **kwargs)

    monkeypatch.setattr(training, "fit", fit)
    sweep = Sweep(base(tree), Space(parse_grid(["num_units=4,8,12"])), tmp_path / "s")
    with pytest.raises(HandRNNError, match="rerun the same command"):
        run_sweep(sweep, load_data(tree))
    monkeypatch.setattr(training, "fit", real_fit)
    rows = run_sweep(sweep, load_data(tree))
    assert [r["state"] for r in rows] == ["complete"] * 3
    assert len(list((tmp_path / "s" / "trials").iterdir())) == 3


def _crash_after_first_epoch(sweep, tree):
    """A worker that claims a trial and dies (SIGKILL-like) once its first epoch is saved."""
    import handrnn.training as training
    from handrnn.sweep import Heartbeat, run_trial

    real_fit = training.fit

    def dying_fit(*args, **kwargs):
        def on_epoch(row):
            os._exit(9)

        return real_fit(*args, **{**kwargs, "on_epoch": on_epoch})

    training.fit = dying_fit
    study = open_study(sweep)
    trial = claim(study)
    with Heartbeat(study, trial, sweep.heartbeat):
        run_trial(study, trial, sweep, load_data(tree))


def test_a_dead_workers_trial_is_retried_and_resumes(tree, tmp_path):
    sweep = Sweep(base(tree, epochs=3), Space(parse_grid(["num_units=4,8"])), tmp_path / "s", heartbeat=1, grace=2)
    open_study(sweep, create=True)
    child = multiprocessing.get_context("fork").Process(target=_crash_after_first_epoch, args=(sweep, tree))
    child.start()
    child.join()
    assert child.exitcode == 9
    [crashed] = [t for t in trials_of(sweep) if t.state.name == "RUNNING"]
    run = tmp_path / "s" / crashed.user_attrs["run"]
    assert RunDir(run).has_checkpoint("last") and not RunDir(run).finished()
    import time

    time.sleep(3)  # past the grace period: the trial's worker is dead
    rows = run_sweep(sweep, load_data(tree))
    assert [r["state"] for r in rows] == ["complete", "complete"]
    states = sorted(t.state.name for t in trials_of(sweep))
    assert states == ["COMPLETE", "COMPLETE", "FAIL"]  # the dead attempt, its retry, the other point
    assert "resuming" in (run / "train.log").read_text()
    assert len((run / "metrics.csv").read_text().splitlines()) == 4  # epochs 1 (before the crash), 2, 3


def test_sweep_command_samples_ranges(tree, tmp_path, capsys):
    argv = ["sweep", "--data", str(tree), "--out", str(tmp_path), "--name", "s", "--epochs", "2", "--protocol", "1:1"]
    argv += ["--range", "lr=1e-3:1e-2:log", "--grid", "num-units=4,8", "--trials", "3", "--threads", "1"]
    assert main(argv) == 0
    with open(tmp_path / "s" / "sweep.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and all(1e-3 <= float(r["lr"]) <= 1e-2 for r in rows)
    assert (tmp_path / "s" / "sweep.png").stat().st_size > 1000
    out = capsys.readouterr().out
    assert "selected by validation" in out
    assert main(argv + ["--trials", "4"]) == 0  # more trials: one more is sampled, the first three are kept
    with open(tmp_path / "s" / "sweep.csv") as f:
        assert len(list(csv.DictReader(f))) == 4


def test_sweep_command_errors(tree, tmp_path, capsys):
    common = ["--data", str(tree), "--out", str(tmp_path)]
    for extra, message in [
        (["--preset", "best", "--grid", "num-units=4,8"], "give --val-fraction above 0"),
        (["--range", "lr=1e-4:1e-2"], "give --trials N"),
        (["--grid", "num-units=4", "--workers", "0"], "--workers must be at least 1"),
        (["--grid", "num-units=4", "--storage", "mysql://nowhere/x"], "sweep storage"),
        (["--grid", "num-units=4", "--protocol", "cross-subject"], "one split"),
    ]:
        assert main(["sweep", *common, *extra]) == 2, extra
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (extra, err)
