import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handrnn.data import Normaliser, SequenceSet, batch_indices, carve_validation, cw3_split, palm_size, protocol_splits
from handrnn.datasets import read_fpha
from handrnn.errors import HandRNNError


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
    assert h.palm == pytest.approx(palm_size(np.concatenate(train)).mean())
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
