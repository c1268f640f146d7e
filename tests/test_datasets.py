import logging
import pickle

import numpy as np
import pytest

from handrnn.datasets import TEST, TRAIN, load_data, load_npz, read_fpha, save_npz, to_cw3_dict, write_cw3
from handrnn.errors import HandRNNError

from .conftest import ACTIONS, make_tree

SKEL = "Hand_pose_annotation_v1/Subject_1/open_jar/1/skeleton.txt"


def test_reads_generated_tree(tree):
    d = read_fpha(tree)
    assert len(d) == 3 * 4 * 4
    assert d.actions == ACTIONS
    assert d.sequences[0].shape[1] == 63 and d.sequences[0].dtype == np.float32
    assert sorted(set(d.subjects.tolist())) == [1, 2, 3]
    assert (d.split == TRAIN).sum() == 24 and (d.split == TEST).sum() == 24
    raw = np.loadtxt(tree / SKEL)[:, 1:]
    np.testing.assert_allclose(d.sequences[d.ids.index("Subject_1/open_jar/1")], raw, rtol=1e-6)


def test_empty_files_are_skipped_with_one_warning(tree, caplog):
    (tree / SKEL).write_text("")
    (tree / SKEL.replace("/1/", "/2/")).write_text("\n")
    with caplog.at_level(logging.DEBUG, logger="handrnn"):
        d = read_fpha(tree)
    assert len(d) == 46
    warnings = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["skipped 2 empty file(s) (handrnn data summary names them)"]
    named = [r.message for r in caplog.records if r.levelno == logging.DEBUG and "skipped" in r.message]
    assert len(named) == 2 and "open_jar/1/skeleton.txt" in named[0]


def test_cache_returns_the_same_data_and_notices_edits(tree):
    first = read_fpha(tree)
    second = read_fpha(tree)
    assert all(np.array_equal(a, b) for a, b in zip(first.sequences, second.sequences))
    assert first.ids == second.ids
    rows = (tree / SKEL).read_text().splitlines()[:3]
    (tree / SKEL).write_text("\n".join(rows) + "\n")
    again = read_fpha(tree)
    assert len(again.sequences[again.ids.index("Subject_1/open_jar/1")]) == 3


@pytest.mark.parametrize(
    "content, message",
    [
        ("0000 " + "1.0 " * 62 + "\n", ":1: expected 64 columns"),
        ("0000 " + "1.0 " * 62 + "abc\n", ":1: not a number: 'abc'"),
        ("0000 " + "1.0 " * 63 + "\n0001 " + "nan " * 63 + "\n", ":2: NaN or infinite"),
        ("0000 " + "1.0 " * 63 + "\n0001 " + "1.0 " * 62 + "inf\n", ":2: NaN or infinite"),
        ("0000 " + "1.0 " * 63 + "\n0000 " + "1.0 " * 63 + "\n", ":2: frame numbers"),
        ("0000 " + "1e9 " * 63 + "\n", ":1: coordinate beyond"),
    ],
)
def test_malformed_skeleton_names_file_and_line(tree, content, message):
    (tree / SKEL).write_text(content)
    with pytest.raises(HandRNNError, match=message) as e:
        read_fpha(tree)
    assert "open_jar/1/skeleton.txt" in str(e.value)


def test_on_bad_skip_reports_the_bad_file(tree):
    (tree / SKEL).write_text("0000 1 2 3\n")
    d = read_fpha(tree, on_bad="skip")
    assert len(d) == 47 and any("open_jar/1/skeleton.txt:1" in s for s in d.skipped)


def test_crlf_and_bom_are_read(tree):
    text = (tree / SKEL).read_text()
    (tree / SKEL).write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    d = read_fpha(tree)
    seq = d.sequences[d.ids.index("Subject_1/open_jar/1")]
    np.testing.assert_allclose(seq, np.loadtxt(text.splitlines())[:, 1:], rtol=1e-6)


def test_unknown_action_in_split_file(tree):
    split = tree / "data_split_action_recognition.txt"
    lines = split.read_text().splitlines()
    lines[1] = "Subject_1/fly_away/1 0"
    split.write_text("\n".join(lines) + "\n")
    with pytest.raises(HandRNNError, match=r"data_split_action_recognition.txt:2: unknown action 'fly_away'"):
        read_fpha(tree)


def test_missing_paths(tmp_path):
    with pytest.raises(HandRNNError, match="no such"):
        load_data(tmp_path / "nowhere")
    with pytest.raises(HandRNNError, match="not an FPHA tree"):
        load_data(tmp_path)


def test_npz_container_round_trip(tree, tmp_path):
    d = read_fpha(tree)
    save_npz(tmp_path / "d.npz", d)
    e = load_npz(tmp_path / "d.npz")
    assert e.ids == d.ids and e.actions == d.actions
    assert all(np.array_equal(a, b) for a, b in zip(d.sequences, e.sequences))


def test_cw3_container_npz_and_pickle(tree, tmp_path):
    d = read_fpha(tree)
    train, test = np.flatnonzero(d.split == TRAIN), np.flatnonzero(d.split == TEST)
    cw3 = to_cw3_dict(d, train, test)
    assert cw3["y_train"].min() == 1
    write_cw3(tmp_path / "c.npz", cw3)
    write_cw3(tmp_path / "c.pkl", cw3)
    a = load_data(tmp_path / "c.npz")
    with pytest.raises(HandRNNError, match="--allow-pickle"):
        load_data(tmp_path / "c.pkl")
    b = load_data(tmp_path / "c.pkl", allow_pickle=True)
    for e in (a, b):
        assert len(e) == len(d) and (e.split == TRAIN).sum() == len(train)
        np.testing.assert_array_equal(e.labels, np.concatenate([d.labels[train], d.labels[test]]))
        np.testing.assert_array_equal(e.sequences[0], d.sequences[train[0]])


def test_cw3_container_with_bad_labels_or_shapes(tmp_path):
    good = {
        "x_train": [np.zeros((4, 63))],
        "x_test": [np.zeros((3, 63))],
        "y_train": [1],
        "y_test": [2],
        "actions": ["a", "b"],
    }
    for key, value, message in [
        ("y_test", [3], "y_test\\[0\\] = 3"),
        ("x_train", [np.zeros((4, 62))], "x_train\\[0\\]: expected \\[T, 63\\]"),
        ("x_test", [np.full((3, 63), np.nan)], "NaN"),
    ]:
        path = tmp_path / f"{key}.pkl"
        path.write_bytes(pickle.dumps({**good, key: value}))
        with pytest.raises(HandRNNError, match=message):
            load_data(path, allow_pickle=True)


def test_tree_without_split_file_numbers_actions_alphabetically(tmp_path):
    d = read_fpha(make_tree(tmp_path / "t", split=False))
    assert d.actions == sorted(ACTIONS) and (d.split == -1).all()


@pytest.mark.fpha
def test_real_fpha_counts(fpha):
    d = read_fpha(fpha)
    lengths = d.lengths
    assert (len(d), int(lengths.sum()), lengths.min(), lengths.max()) == (1175, 105459, 7, 1151)
    assert len(d.actions) == 45 and sorted(set(d.subjects.tolist())) == [1, 2, 3, 4, 5, 6]
    assert ((d.split == TRAIN).sum(), (d.split == TEST).sum()) == (600, 575)
    assert len(d.skipped) == 3 and d.actions[0] == "open_juice_bottle" and d.actions[-1] == "high_five"


def test_a_cache_file_is_trusted_only_when_its_key_and_content_check_out(tree, tmp_path):
    import os

    from handrnn.datasets import save_npz

    cache = tmp_path / "c"
    first = read_fpha(tree, cache_dir=cache)
    (path,) = cache.glob("fpha-*.npz")
    # another valid .npz under the cache's name: not this tree's cache, so the tree is parsed again
    other = first.subset(np.arange(3))
    save_npz(path, other)
    assert len(read_fpha(tree, cache_dir=cache)) == len(first)
    # a truncated cache file: rebuilt, no traceback
    path.write_bytes(path.read_bytes()[:200])
    assert len(read_fpha(tree, cache_dir=cache)) == len(first)
    # an edit that keeps the size and restores the modification time is still seen (ctime changes)
    skel = tree / SKEL
    st = skel.stat()
    head, last = skel.read_text().rstrip("\n").rsplit(" ", 1)
    new = f"{1.5:.{len(last) - 2}f}"  # the same width as the value it replaces
    skel.write_text(f"{head} {new}\n")
    os.utime(skel, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert skel.stat().st_size == st.st_size and skel.stat().st_mtime_ns == st.st_mtime_ns
    edited = read_fpha(tree, cache_dir=cache)
    i = edited.ids.index("Subject_1/open_jar/1")
    assert edited.sequences[i][-1, -1] == pytest.approx(1.5)


def test_a_subset_with_official_labels_loads_and_reports_real_faults(tree):
    split = tree / "data_split_action_recognition.txt"
    official = {0: 3, 1: 10, 2: 20, 3: 44}  # four actions of 45, listed with their official labels
    lines = [
        " ".join([ln.split()[0], str(official[int(ln.split()[1])])]) if "/" in ln else ln
        for ln in split.read_text().splitlines()
    ]
    split.write_text("\n".join(lines) + "\n")
    d = read_fpha(tree)
    assert d.actions == ["open_jar", "close_jar", "pour", "stir"] and sorted(set(d.labels.tolist())) == [0, 1, 2, 3]
    (tree / SKEL).write_text("0000 1.0\n")
    with pytest.raises(HandRNNError, match="open_jar/1/skeleton.txt:1: expected 64 columns"):
        read_fpha(tree)
