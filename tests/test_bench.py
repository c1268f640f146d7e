import json

import numpy as np
import pytest
import torch

from handrnn.bench import finger_level_ms, grouped_scaling, load_times, recurrent_flops_per_frame
from handrnn.cli import main
from handrnn.config import make_config
from handrnn.datasets import load_data, save_npz


def test_flop_counts_by_hand():
    # GRU-128 over 63 inputs: 3 gates x 128 x (63 + 128) multiply-adds, 2 FLOPs each
    assert recurrent_flops_per_frame(make_config(cell="gru", num_units=128)) == 2 * 3 * 128 * 191
    assert recurrent_flops_per_frame(make_config(cell="lstm", num_units=8, depth=2)) == 2 * 4 * 8 * 71 + 2 * 4 * 8 * 16
    # bidirectional GRU-8 over pose,vel (126 inputs), two members: 2 members x 2 directions x one layer
    assert recurrent_flops_per_frame(
        make_config(cell="gru", num_units=8, bidirectional=True, features="pose,vel", members=2)
    ) == 2 * 2 * (2 * 3 * 8 * (126 + 8))
    # HRNN: five GRU-16 over 15 inputs, then GRU-160 over 80
    assert (
        recurrent_flops_per_frame(make_config(model="hrnn", num_units1=16)) == 5 * 2 * 3 * 16 * 31 + 2 * 3 * 160 * 240
    )


@pytest.mark.fpha
def test_bench_quick_writes_its_table(fpha, tmp_path, capsys):
    assert main(["bench", "--data", str(fpha), "--quick", "--seconds", "0.05", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    result = json.loads((tmp_path / "bench.json").read_text())
    rows = result["rows"]
    assert {(r["model"], r["lengths"]) for r in rows} >= {
        ("rnn-gru128x1", "pad"),
        ("rnn-gru128x1", "bucket"),
        ("rnn-gru128x1", "pack"),
        ("hrnn-gru16-160", "bucket"),
        ("hrnn-gru16-160-unfused", "bucket"),
    }
    assert all(r["seconds_per_epoch"] > 0 and 0 < r["fraction_of_matmul"] for r in rows)
    assert result["train_sequences"] == 950 and result["pad_to"] == 1151 and result["matmul_gflops"] > 0
    assert [f["batch"] for f in result["finger_level"]] == [50, 5]
    assert all(f["fused"] > 0 and f["five_layers"] > 0 for f in result["finger_level"])
    assert "finger level alone" in out
    ens = result["ensemble"]
    assert ens["members"] == 5 and ens["ensemble_s"] > 0 and ens["ratio"] == ens["ensemble_s"] / ens["one_member_s"]
    assert ens["grouped_ratio"] == ens["grouped_ensemble_s"] / ens["grouped_one_member_s"] > 0
    assert "with --grouped-kernel one network" in out
    assert "ensemble, rnn bigru128x1" in out
    assert [r["groups"] for r in ens["grouped_kernel"]] == [1, 2, 5] and "grouped kernel" in out
    assert "s/epoch" in out and (tmp_path / "bench.csv").read_text().count("\n") == len(rows) + 1


def test_plot_and_table_commands(tree, tmp_path, capsys):
    assert (
        main(["train", "--data", str(tree), "--out", str(tmp_path), "--name", "a", "--epochs", "2", "--num-units", "4"])
        == 0
    )
    assert main(["plot", str(tmp_path / "a"), "--out", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    assert main(["table", str(tmp_path / "a")]) == 0
    assert "| a | rnn gru4x1 b50 lr0.001 bucket |" in capsys.readouterr().out
    assert main(["plot", str(tmp_path), "--out", str(tmp_path / "d.png")]) == 2


def test_bench_reads_a_container_file(tree, tmp_path):
    data = load_data(tree)
    save_npz(tmp_path / "d.npz", data)
    loads = load_times(tmp_path / "d.npz")
    assert loads["cold_s"] > 0 and loads["warm_s"] > 0
    assert np.array_equal(loads["data"].labels, data.labels) and len(loads["data"].sequences) == len(data.sequences)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (none on this machine)")
def test_bench_times_the_kernels_on_cuda():
    rows = grouped_scaling(groups=(1, 2), budget=0.05, device="cuda")
    assert [r["groups"] for r in rows] == [1, 2] and all(r["ms"] > 0 for r in rows)
    fingers = finger_level_ms(16, 5, 40, budget=0.05, device="cuda")
    assert fingers["fused"] > 0 and fingers["five_layers"] > 0
