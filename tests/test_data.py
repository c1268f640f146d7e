import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from handrnn.data import Normaliser, SequenceSet, batch_indices, carve_validation, cw3_split, palm_size, protocol_splits
from handrnn.datasets import read_fpha
from handrnn.errors import HandRNNError

from .conftest import train_tiny


def test_cw3_split_is_stratified_and_seeded():
    labels = np.repeat(np.arange(45), 26)
    a, b, c = cw3_split(labels, 0), cw3_split(labels, 0), cw3_split(labels, 1)
    assert len(a.test) == 225 and np.all(np.bincount(labels[a.test]) == 5)
    assert np.array_equal(a.test, b.test) and not np.array_equal(a.test, c.test)
    assert len(np.intersect1d(a.train, a.test)) == 0 and len(a.train) + len(a.test) == len(labels)


def test_protocols_on_generated_tree(tree):
    d = read_fpha(tree)
    (one,) = protocol_splits(d, "1:1", 0)
    assert len(one.train) == 24 and len(one.test) == 24
    folds = protocol_splits(d, "cross-subject", 0)
    assert [f.name for f in folds] == ["subject1", "subject2", "subject3"]
    assert all(set(d.subjects[f.test]) == {i + 1} for i, f in enumerate(folds))
    with pytest.raises(HandRNNError, match="unknown protocol"):
        protocol_splits(d, "random", 0)


def test_validation_is_carved_from_training_only():
    labels = np.repeat(np.arange(5), 10)
    train = np.arange(0, 50, 1)[np.arange(50) % 10 < 8]
    tr, val = carve_validation(labels, train, 0.25, 0)
    assert set(val) <= set(train) and not set(val) & set(tr) and len(tr) + len(val) == len(train)
    assert np.all(np.bincount(labels[val]) == 2)


def test_validation_by_subject_holds_out_one_whole_training_subject():
    subjects = np.repeat([1, 2, 3, 4], 45)
    labels = np.tile(np.arange(45), 4)
    train = np.flatnonzero(subjects != 4)  # a cross-subject fold that tests subject 4
    held = set()
    for seed in range(8):
        tr, val = carve_validation(labels, train, 0.1, seed, subjects)
        (s,) = np.unique(subjects[val])
        assert s in (1, 2, 3) and np.array_equal(val, train[subjects[train] == s])  # all of one training subject
        assert not set(subjects[tr]) & {s} and np.array_equal(np.sort(np.r_[tr, val]), train)
        held.add(int(s))
    assert len(held) > 1  # the seed draws the subject
    a, b = carve_validation(labels, train, 0.1, 3, subjects), carve_validation(labels, train, 0.1, 3, subjects)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert len(carve_validation(labels, train, 0.0, 3, subjects)[1]) == 0  # val_fraction 0: no validation
    with pytest.raises(HandRNNError, match="needs subject ids"):
        carve_validation(labels, train, 0.1, 0, np.zeros_like(subjects))
    with pytest.raises(HandRNNError, match="at least 2 subjects"):
        carve_validation(labels, np.flatnonzero(subjects == 1), 0.1, 0, subjects)


def test_validation_folds_share_out_the_training_part_once():
    labels = np.r_[np.repeat(np.arange(4), [13, 10, 3, 1]), 9]  # class 3: one training sequence
    train = np.arange(len(labels) - 1)  # the last one (class 9) is a test sequence
    n = 5
    vals = [carve_validation(labels, train, 0.2, 7, fold=k)[1] for k in range(1, n + 1)]
    for k, val in enumerate(vals, 1):
        tr, again = carve_validation(labels, train, 0.2, 7, fold=k)
        assert np.array_equal(again, val) and not set(tr) & set(val) and np.array_equal(np.sort(np.r_[tr, val]), train)
    together = np.concatenate(vals)
    assert len(together) == len(set(together))  # disjoint
    assert set(together) == set(train) - {26}  # every training sequence once, but class 3's only one
    counts = np.array([np.bincount(labels[v], minlength=4)[:3] for v in vals])  # per fold and class
    assert np.all(counts.max(0) - counts.min(0) <= 1) and sorted(counts.sum(0)) == [3, 10, 13]
    assert max(map(len, vals)) - min(map(len, vals)) <= 1
    other = [carve_validation(labels, train, 0.2, 8, fold=k)[1] for k in range(1, n + 1)]
    assert any(not np.array_equal(a, b) for a, b in zip(vals, other))  # the seed draws the partition
    assert len(carve_validation(labels, train, 0.1, 7, fold=10)[1]) in (2, 3)  # 0.1: ten folds
    with pytest.raises(HandRNNError, match=r"val_fold must be in 1..5"):
        carve_validation(labels, train, 0.2, 7, fold=6)


def test_a_run_validated_on_a_fold_records_that_fold(tree, tmp_path):
    import json

    runs = [train_tiny(tree, tmp_path, f"fold{k}", ["--val-fraction", "0.34", "--val-fold", str(k)]) for k in (1, 2, 3)]
    splits = [json.loads((r / "split.json").read_text()) for r in runs]
    vals = [set(s["val"]) for s in splits]
    assert all(vals) and not vals[0] & vals[1] and not vals[1] & vals[2] and not vals[0] & vals[2]
    assert all(set(s["train"]) | set(s["val"]) == set(splits[0]["train"]) | vals[0] for s in splits)


def test_a_run_validated_by_subject_keeps_that_subject_out_of_training(tree, tmp_path):
    import json

    run = train_tiny(tree, tmp_path, "by-subject", ["--val-by", "subject", "--val-fraction", "0.1"])
    split = json.loads((run / "split.json").read_text())
    subject = {part: {i.split("/")[0] for i in split[part]} for part in ("train", "val")}
    assert len(subject["val"]) == 1 and not subject["val"] & subject["train"]


def test_normalisers_fit_on_training_only():
    rng = np.random.default_rng(0)
    train = [rng.normal(5, 2, (30, 63)) for _ in range(4)]
    z = Normaliser.fit("zscore", train)
    out = np.concatenate([z(s) for s in train])
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(0), 1, atol=1e-4)
    h = Normaliser.fit("hand", train)
    x = h(train[0]).reshape(30, 21, 3)
    np.testing.assert_allclose(x[:, 0], 0, atol=1e-6)
    hand = np.zeros((2, 21, 3))
    hand[:, 1:6, 0] = [[10, 10, 10, 10, 10], [20, 20, 20, 20, 20]]  # MCPs 10 mm, then 20 mm from the wrist
    assert palm_size(hand.reshape(2, 63)).tolist() == [10.0, 20.0]
    assert Normaliser.fit("hand", [hand.reshape(2, 63)]).palm == pytest.approx(15.0)
    assert Normaliser(**vars(z)).mean == z.mean  # travels as plain data


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(1, 60), min_size=1, max_size=40),
    st.integers(1, 9),
    st.sampled_from(["pad", "bucket", "pack"]),
    st.integers(0, 3),
)
def test_batches_partition_the_data(lengths, batch_size, mode, seed):
    lengths = np.array(lengths)
    batches = batch_indices(lengths, batch_size, mode, np.random.default_rng(seed))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert all(1 <= len(b) <= batch_size for b in batches)
    seqs = SequenceSet(
        [np.full((n, 63), float(i)) for i, n in enumerate(lengths)], np.zeros(len(lengths)), Normaliser()
    )
    x, lens, _ = seqs.batch(batches[0])
    assert x.shape[1] == lengths[batches[0]].max()
    for row, i in enumerate(batches[0]):
        assert (x[row, : lengths[i]] == i).all() and (x[row, lengths[i] :] == -99).all()


@pytest.mark.parametrize("augmented", [False, True])
def test_batch_views_give_every_encoder_the_same_frames(augmented):
    """A teacher's view (here: the frames times 2, plus a column) holds the frames the student's view holds, drawn
    from the rng as `batch` draws; without augmentation the student's view is its encoding made once."""
    rng = np.random.default_rng(0)
    raw = [rng.normal(size=(n, 63)) for n in (5, 9, 7)]
    augment = (lambda f, r: f + r.normal(size=f.shape)) if augmented else None
    calls = []

    def student(f):
        calls.append(len(f))
        return f.astype(np.float32)

    def teacher(f):
        return np.concatenate([2 * f, np.ones((len(f), 1))], axis=1).astype(np.float32)

    seqs = SequenceSet(raw, np.arange(3), student, augment)
    index = np.array([2, 0])
    made = len(calls)
    ((x, lengths), (t, t_lengths)), y = seqs.batch_views(index, (student, teacher), rng=np.random.default_rng(5))
    assert torch.equal(t_lengths, lengths)
    alone, alone_lengths, _ = seqs.batch(index, rng=np.random.default_rng(5))
    assert torch.equal(x, alone) and torch.equal(lengths, alone_lengths) and y.tolist() == [2, 0]
    assert x.shape == (2, 7, 63) and t.shape == (2, 7, 64) and lengths.tolist() == [7, 5]
    valid = x[1, :5]
    assert torch.allclose(t[1, :5, :63], 2 * valid) and (t[1, :5, 63] == 1).all() and (t[1, 5:] == -99).all()
    if not augmented:
        assert torch.equal(x[0], torch.from_numpy(raw[2]).float())
        assert len(calls) == made  # the student's encoding is reused, never recomputed per batch


@pytest.mark.parametrize("protocol, fraction", [("1:3", 0.25), ("3:1", 0.75)])
def test_ratio_protocols_split_each_action_by_its_fraction(protocol, fraction):
    from handrnn.data import ratio_split

    labels = np.repeat(np.arange(6), [8, 12, 20, 24, 4, 2])
    s, again = ratio_split(labels, fraction, 3, protocol), ratio_split(labels, fraction, 3, protocol)
    assert np.array_equal(s.train, again.train) and not np.array_equal(
        s.train, ratio_split(labels, fraction, 4, "x").train
    )
    assert len(np.intersect1d(s.train, s.test)) == 0 and len(s.train) + len(s.test) == len(labels)
    per_class = np.bincount(labels[s.train], minlength=6)
    counts = np.bincount(labels)
    expected = np.clip(np.round(fraction * counts), 1, counts - 1)
    assert np.array_equal(per_class, expected)


def test_fingerprint_changes_with_any_value_id_or_order(tree):
    from handrnn.data import fingerprint

    d = read_fpha(tree)
    index = np.arange(len(d))
    base = fingerprint(d, index)
    assert fingerprint(d, index) == base and fingerprint(d, index[::-1]) != base
    d.sequences[3] = d.sequences[3].copy()
    d.sequences[3][0, 0] += 0.001
    assert fingerprint(d, index) != base


def test_encoder_fits_its_normaliser_on_augmented_training_data():
    from handrnn.augment import Augmentation
    from handrnn.data import Encoder

    rng = np.random.default_rng(0)
    hand = rng.normal(300, 40, (1, 63))  # one rigid hand that barely moves: its distances are near-constant
    seqs = [hand.repeat(20, 0) + rng.normal(0, 0.01, (20, 63)) for _ in range(5)]
    plain = Encoder.fit(("dists",), "zscore", seqs)
    jittered = Encoder.fit(("dists",), "zscore", seqs, Augmentation(jitter=5.0), seed=0)
    # jitter widens the spread the normaliser divides by, so the noise it adds is not blown up
    assert np.median(jittered.normaliser.std) > 100 * np.median(plain.normaliser.std)
    assert Encoder.fit(("dists",), "zscore", seqs, Augmentation(jitter=5.0), seed=0) == jittered


def test_an_encoder_with_a_step_reads_every_kth_frame_from_the_first():
    """step k: the rows are those of frames 0, k, 2k, ... encoded alone (velocities between kept frames), the
    normaliser fitted on those rows; a SequenceSet's lengths and batches follow the kept frames."""
    from handrnn.data import Encoder

    rng = np.random.default_rng(1)
    seqs = [300 + np.cumsum(rng.normal(0, 3, (n, 63)), 0) for n in (1, 2, 7, 9)]
    every = Encoder.fit(("pose", "vel"), "zscore", seqs, step=3)
    kept_only = Encoder.fit(("pose", "vel"), "zscore", [s[::3] for s in seqs])
    assert every.normaliser == kept_only.normaliser and every.step == 3
    for s in seqs:
        assert every(s).shape == (-(-len(s) // 3), 126)
        np.testing.assert_array_equal(every(s), kept_only(s[::3]))
    data = SequenceSet(seqs, np.arange(4), every)
    assert data.lengths.tolist() == [1, 1, 3, 3]
    x, lengths, _ = data.batch(np.array([2, 0]))
    assert lengths.tolist() == [3, 1] and x.shape == (2, 3, 126) and (x[1, 1:] == -99).all()
    augmented = SequenceSet(seqs, np.arange(4), every, lambda f, r: f[1:] if len(f) > 1 else f)
    assert augmented.lengths.tolist() == [1, 1, 3, 3]  # before augmentation: a guide for bucketing only
    (_, lengths), (_, teacher_lengths) = augmented.batch_views(np.array([3, 2]), (every, kept_only), rng=rng)[0]
    assert lengths.tolist() == [3, 2] and teacher_lengths.tolist() == [8, 6]  # 8 and 6 frames left: each its own


def test_phases_read_each_sequence_from_every_phase_of_the_step():
    """Phases with step 3: a sequence of 7 frames is read from frames 0, 1 and 2 (rows of frames 0,3,6 / 1,4 /
    2,5), one of 2 frames only from 0 and 1; `owner` names each reading's sequence, `y` keeps one label per
    sequence. held_out gives a plain SequenceSet without phases or at step 1."""
    from handrnn.data import Encoder, Phases, held_out

    rng = np.random.default_rng(2)
    seqs = [300 + np.cumsum(rng.normal(0, 3, (n, 63)), 0) for n in (7, 2)]
    every = Encoder.fit(("pose", "vel"), "zscore", seqs, step=3)
    phases = held_out(seqs, np.array([4, 9]), every, phases=True)
    assert isinstance(phases, Phases) and len(phases) == 2 and phases.y.tolist() == [4, 9]
    assert phases.owner.tolist() == [0, 0, 0, 1, 1]
    assert phases.readings.y.tolist() == [4, 4, 4, 9, 9]
    assert phases.readings.lengths.tolist() == [3, 2, 2, 1, 1]
    for reading, (s, start) in zip(phases.readings.x, [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]):
        np.testing.assert_array_equal(reading.numpy(), every(seqs[s][start:]))
    np.testing.assert_array_equal(phases.readings.x[1].numpy(), every.encode_kept(seqs[0][[1, 4]]))
    assert type(held_out(seqs, np.array([4, 9]), every)) is SequenceSet
    once = Encoder.fit(("pose", "vel"), "zscore", seqs)
    assert type(held_out(seqs, np.array([4, 9]), once, phases=True)) is SequenceSet  # step 1: one phase
