import numpy as np
import pytest
import torch
from torch import nn

from handrnn.data import Normaliser, SequenceSet, batch_indices
from handrnn.models import CELLS, HRNN, MODELS, FingerRNN, RNNClassifier
from handrnn.skeleton import finger_feature_indices

LENGTHS = [9, 3, 6, 1, 7]


def sequences(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 63, generator=g) for n in LENGTHS]


def logits_per_sequence(model, seqs):
    """Reference: each sequence alone, unpadded."""
    return torch.cat([model(s[None], torch.tensor([len(s)])) for s in seqs])


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("cell", list(CELLS))
def test_pad_bucket_pack_give_the_same_logits(name, cell):
    torch.manual_seed(0)
    kwargs = (
        {"cell": cell, "num_units": 8, "depth": 2}
        if name == "rnn"
        else {"cell1": cell, "cell2": cell, "num_units1": 4, "num_units2": 6}
    )
    model = MODELS[name](num_classes=5, **kwargs).eval()
    assert_every_length_mode_gives_the_logits_of_one_by_one(model, sequences())


def assert_every_length_mode_gives_the_logits_of_one_by_one(model, seqs):
    data = SequenceSet([s.numpy() for s in seqs], np.zeros(len(seqs)), Normaliser())
    reference = logits_per_sequence(model, seqs)
    with torch.no_grad():
        index = np.arange(len(seqs))
        pad = model(*data.batch(index, pad_to=40)[:2])  # CW3: padded far past the longest, -99
        bucket = torch.empty_like(pad)
        for b in batch_indices(np.array([len(s) for s in seqs]), 2, "bucket", np.random.default_rng(0)):
            bucket[torch.as_tensor(b)] = model(*data.batch(b)[:2])
        model.pack_sequences = True
        packed = model(*data.batch(index)[:2])
    for out in (pad, bucket, packed):
        torch.testing.assert_close(out, reference.detach(), rtol=1e-5, atol=1e-5)


def five_layers(fingers: FingerRNN, cell: str) -> list[nn.RNNBase]:
    """Five separate torch RNN layers holding the fused module's per-finger weights."""
    layers = []
    for f in range(5):
        layer = CELLS[cell](15, fingers.units, batch_first=True)
        with torch.no_grad():
            layer.weight_ih_l0.copy_(fingers.weight_ih[f])
            layer.weight_hh_l0.copy_(fingers.weight_hh[f])
            layer.bias_ih_l0.copy_(fingers.bias_ih[f])
            layer.bias_hh_l0.copy_(fingers.bias_hh[f])
        layers.append(layer)
    return layers


@pytest.mark.parametrize("cell", list(CELLS))
def test_fused_fingers_match_five_torch_layers_outputs_and_gradients(cell):
    torch.manual_seed(0)
    fused = FingerRNN(cell=cell, units=6, fused=True)
    layers = five_layers(fused, cell)
    x = torch.randn(4, 11, 63, requires_grad=True)
    cols = [finger_feature_indices(f) for f in range(5)]
    ours = fused(x[..., sum(cols, [])])
    theirs = torch.cat([layers[f](x[..., cols[f]])[0] for f in range(5)], dim=-1)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    weights = torch.randn_like(ours)
    dx_ours = torch.autograd.grad((ours * weights).sum(), x, retain_graph=True)[0]
    dx_theirs = torch.autograd.grad((theirs * weights).sum(), x, retain_graph=True)[0]
    torch.testing.assert_close(dx_ours, dx_theirs, rtol=1e-4, atol=1e-5)
    (ours * weights).sum().backward()
    (theirs * weights).sum().backward()
    for f in range(5):
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            ref = getattr(layers[f], f"{name}_l0").grad
            torch.testing.assert_close(getattr(fused, name).grad[f], ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cell1", list(CELLS))
@pytest.mark.parametrize("cell2", list(CELLS))
@pytest.mark.parametrize("packed", [False, True])
def test_hrnn_fused_and_unfused_agree_outputs_and_gradients(cell1, cell2, packed):
    torch.manual_seed(1)
    model = HRNN(num_classes=7, cell1=cell1, cell2=cell2, num_units1=5, num_units2=9, pack_sequences=packed).eval()
    x, lengths = torch.randn(3, 8, 63), torch.tensor([8, 2, 5])
    results = []
    for fused in (True, False):
        model.fingers.fused = fused
        model.zero_grad()
        logits = model(x, lengths)
        (logits * torch.arange(7.0)).sum().backward()
        results.append((logits.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=1e-5, atol=1e-6)
    for name, grad in results[0][1].items():
        torch.testing.assert_close(grad, results[1][1][name], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", list(MODELS))
def test_models_overfit_a_tiny_set(name):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 12, 63, generator=g)
    y, lengths = torch.arange(8) % 4, torch.tensor([12, 5, 7, 12, 3, 9, 12, 6])
    size = {"num_units": 32} if name == "rnn" else {"num_units1": 8}
    model = MODELS[name](num_classes=4, dropout=0.0, **size)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x, lengths), y)
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    assert (model(x, lengths).argmax(1) == y).all()


def test_rnn_classifier_shapes_and_no_nans():
    model = RNNClassifier(num_classes=45, cell="lstm", num_units=16, depth=3).eval()
    out = model(torch.randn(2, 5, 63), torch.tensor([5, 2]))
    assert out.shape == (2, 45) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_streaming_frame_by_frame_matches_whole_sequence(name, cell):
    torch.manual_seed(0)
    kwargs = {"cell": cell, "num_units": 8} if name == "rnn" else {"cell1": cell, "cell2": cell, "num_units1": 4}
    model = MODELS[name](num_classes=5, **kwargs).eval()
    x = torch.randn(2, 10, 63)
    state = None
    with torch.no_grad():
        for t in range(10):
            logits, state = model.stream(x[:, t : t + 1], state)
        torch.testing.assert_close(logits, model(x, torch.tensor([10, 10])), rtol=1e-5, atol=1e-5)


VARIANTS = [
    ("rnn", {"cell": "gru", "num_units": 8, "depth": 2, "bidirectional": True}),
    ("rnn", {"cell": "lstm", "num_units": 8, "bidirectional": True, "pool": "mean"}),
    ("rnn", {"cell": "rnn", "num_units": 8, "pool": "max", "layer_norm": True}),
    ("rnn", {"cell": "gru", "num_units": 8, "bidirectional": True, "pool": "attention"}),
    ("hrnn", {"cell1": "gru", "cell2": "gru", "num_units1": 4, "num_units2": 6, "pool": "mean"}),
    ("hrnn", {"cell1": "lstm", "cell2": "lstm", "num_units1": 4, "num_units2": 6, "pool": "attention"}),
]


@pytest.mark.parametrize("name,kwargs", VARIANTS)
def test_bidirectional_and_pooled_models_ignore_padding_in_every_length_mode(name, kwargs):
    torch.manual_seed(0)
    model = MODELS[name](num_classes=5, **kwargs).eval()
    assert_every_length_mode_gives_the_logits_of_one_by_one(model, sequences(1))


@pytest.mark.parametrize("eval_batch", [1, 7, 32, 1000])
def test_evaluation_gives_each_sequence_its_own_logits_in_order_for_any_batch_size(monkeypatch, eval_batch):
    """`predict` batches sequences of like length (EVAL_BATCH at a time, fewer padded frames); the logits come
    back in the data's order and equal those of each sequence alone, however many batches there are."""
    from handrnn import training

    monkeypatch.setattr(training, "EVAL_BATCH", eval_batch)
    g = torch.Generator().manual_seed(3)
    seqs = [torch.randn(int(n), 63, generator=g) for n in torch.randint(1, 40, (70,), generator=g)]
    torch.manual_seed(0)
    model = RNNClassifier(num_classes=5, num_units=6, bidirectional=True, pool="mean").eval()
    data = SequenceSet([s.numpy() for s in seqs], np.zeros(len(seqs)), Normaliser())
    with torch.no_grad():
        reference = logits_per_sequence(model, seqs)
    torch.testing.assert_close(training.predict(model, data), reference)


def test_the_backward_direction_starts_at_the_true_last_frame():
    """A bidirectional model's logits for a sequence do not change when padding follows it, but do when
    its own first or last frame changes."""
    torch.manual_seed(0)
    model = RNNClassifier(num_classes=3, input_size=4, num_units=5, bidirectional=True).eval()
    x = torch.randn(1, 6, 4)
    base = model(x, torch.tensor([6]))
    padded = torch.cat([x, torch.full((1, 9, 4), 1e3)], 1)
    torch.testing.assert_close(model(padded, torch.tensor([6])), base)
    changed = x.clone()
    changed[0, 0] += 1
    assert not torch.allclose(model(changed, torch.tensor([6])), base)


@pytest.mark.parametrize("pool", ["last", "mean", "max"])
def test_pooled_rnn_streams_exactly(pool):
    torch.manual_seed(0)
    model = RNNClassifier(num_classes=5, num_units=8, pool=pool).eval()
    x = torch.randn(2, 10, 63)
    state = None
    with torch.no_grad():
        for t in range(10):
            logits, state = model.stream(x[:, t : t + 1], state)
        torch.testing.assert_close(logits, model(x, torch.tensor([10, 10])), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="whole sequence"):
        RNNClassifier(num_units=4, bidirectional=True).stream(x)


def test_members_with_their_own_features_stream_exactly():
    from handrnn import features
    from handrnn.config import make_config
    from handrnn.models import build_model

    torch.manual_seed(0)
    cfg = make_config(members=2, num_units=8, pool="mean", member_features="local,orient;pose,dists")
    model = build_model(cfg, 5).eval()
    x = torch.randn(2, 10, features.size(cfg.feature_names()))
    state = None
    with torch.no_grad():
        for t in range(10):
            logits, state = model.stream(x[:, t : t + 1], state)
        torch.testing.assert_close(logits, model(x, torch.tensor([10, 10])), rtol=1e-5, atol=1e-5)


FEATURES = {"rnn": ["pose,vel,vel4,bones,dirs,dists,angles", "xyz"], "hrnn": ["pose,vel", "xyz,vel4"]}
EXTRAS = {
    "rnn": [{"bidirectional": True, "pool": "attention"}, {"depth": 2, "layer_norm": True}],
    "hrnn": [{"pool": "max"}, {"fused": False, "cell2": "lstm"}],
}
CONFIGS = [
    {"model": m, "cell": c, "features": FEATURES[m][i], **EXTRAS[m][i]}
    for m in ("rnn", "hrnn")
    for c in ("rnn", "gru", "lstm")
    for i in (0, 1)
]


@pytest.mark.parametrize("overrides", CONFIGS, ids=lambda o: "-".join(str(v) for v in o.values()))
@pytest.mark.parametrize("lengths", ["pad", "bucket", "pack"])
def test_every_model_builds_from_config_runs_forward_and_backward(overrides, lengths):
    from handrnn import features
    from handrnn.config import make_config
    from handrnn.models import build_model

    cfg = make_config(num_units=8, num_units1=4, lengths=lengths, **overrides)
    model = build_model(cfg, 7)
    seqs = [np.random.default_rng(i).normal(300, 40, (n, 63)) for i, n in enumerate(LENGTHS)]
    encoded = [features.encode(s, cfg.feature_names()) for s in seqs]
    data = SequenceSet(encoded, np.arange(len(seqs)) % 7, Normaliser())
    x, lengths_, y = data.batch(np.arange(len(seqs)), pad_to=20 if lengths == "pad" else None)
    logits = model(x, lengths_)
    assert logits.shape == (len(seqs), 7) and torch.isfinite(logits).all() and model.num_classes == 7
    nn.functional.cross_entropy(logits, y).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_an_ensemble_averages_its_members_probabilities_and_trains_each_member():
    from handrnn.config import make_config
    from handrnn.models import Ensemble, build_model

    torch.manual_seed(0)
    model = build_model(make_config(members=3, num_units=8, dropout=0.0), 4)
    assert isinstance(model, Ensemble) and len(model.members) == 3 and model.num_classes == 4
    w = [m.rnn.weight_hh_l0 for m in model.members]
    assert not torch.equal(w[0], w[1])  # own initial weights
    x, lengths = torch.randn(5, 7, 63), torch.tensor([7, 3, 5, 1, 7])
    probs = torch.stack([m(x, lengths).softmax(-1) for m in model.members]).mean(0)
    torch.testing.assert_close(model(x, lengths).softmax(-1), probs)
    state = None
    with torch.no_grad():
        for t in range(7):
            logits, state = model.stream(x[:1, t : t + 1], state)
    torch.testing.assert_close(logits, model(x[:1], lengths[:1]), rtol=1e-5, atol=1e-5)
    from handrnn.data import SequenceSet
    from handrnn.training import train_one_epoch

    data = SequenceSet([s[:n].numpy() for s, n in zip(x, lengths)], np.arange(5) % 4, Normaliser())
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss, _ = train_one_epoch(model, data, [np.arange(5)], opt)
    assert np.isfinite(loss)
    assert all(not torch.equal(b, p) for b, p in zip(before, model.parameters()) if p.grad is not None)


@pytest.mark.parametrize("cell", ["gru", "rnn"])
@pytest.mark.parametrize(
    "shape",
    [
        {"bidirectional": True, "pool": "mean", "layer_norm": True},
        {"bidirectional": True, "pool": "last"},
        {"bidirectional": False, "pool": "last", "depth": 2},
        {"bidirectional": True, "pool": "max", "depth": 2},
    ],
)
def test_fused_members_give_the_logits_and_gradients_of_members_one_after_another(cell, shape):
    """--grouped-kernel runs every member and direction as a group of the grouped kernel: the same maths as
    the members one after another on PyTorch's layers."""
    from handrnn.config import make_config
    from handrnn.models import Ensemble, build_model

    torch.manual_seed(0)
    model = build_model(make_config(members=3, num_units=8, cell=cell, grouped_kernel=True, **shape), 5)
    assert isinstance(model, Ensemble) and all(m.grouped for m in model.members) and model.can_fuse()
    model.eval()  # dropout off: both paths see the same values
    x, lengths, y = torch.randn(5, 9, 63), torch.tensor([9, 3, 6, 1, 7]), torch.tensor([0, 1, 2, 3, 4])
    x[1, 3:] = x[3, 1:] = -99.0  # padding, as batches carry it
    grads = []
    for fused in (True, False):
        for m in model.members:
            m.grouped = fused  # False: each member on PyTorch's layers, one after another
        assert model.can_fuse() == fused
        model.zero_grad()
        members = model.forward_members(x, lengths)
        sum(nn.functional.cross_entropy(m, y) for m in members).backward()
        grads.append((members.detach(), [p.grad.clone() for p in model.parameters()]))
    (fused_logits, fused_grads), (logits, reference) = grads
    torch.testing.assert_close(fused_logits, logits, rtol=1e-5, atol=1e-5)
    for a, b in zip(fused_grads, reference):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cell", ["gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_one_network_on_the_grouped_kernel_gives_the_logits_and_gradients_of_pytorchs_layers(cell, bidirectional):
    from handrnn.config import make_config
    from handrnn.models import build_model

    torch.manual_seed(0)
    cfg = make_config(num_units=8, cell=cell, depth=2, bidirectional=bidirectional, pool="mean", grouped_kernel=True)
    model = build_model(cfg, 5).eval()
    assert model.grouped and model.can_group()
    x, lengths, y = torch.randn(5, 9, 63), torch.tensor([9, 3, 6, 1, 7]), torch.tensor([0, 1, 2, 3, 4])
    out = []
    for grouped in (True, False):
        model.grouped = grouped
        model.zero_grad()
        logits = model(x, lengths)
        nn.functional.cross_entropy(logits, y).backward()
        out.append((logits.detach(), [p.grad.clone() for p in model.parameters()]))
    torch.testing.assert_close(out[0][0], out[1][0], rtol=1e-5, atol=1e-5)
    for a, b in zip(out[0][1], out[1][1]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_members_that_the_grouped_kernel_cannot_run_fall_back_to_one_after_another():
    from handrnn.config import make_config
    from handrnn.models import build_model

    model = build_model(make_config(members=2, num_units=8, cell="lstm", grouped_kernel=True), 5)
    assert all(m.grouped for m in model.members) and not model.can_fuse()
    x, lengths = torch.randn(2, 4, 63), torch.tensor([4, 2])
    assert model.forward_members(x, lengths).shape == (2, 2, 5)


def grouped_models():
    """A fused HRNN and a grouped ensemble of bidirectional GRUs, in eval mode, with a padded batch."""
    from handrnn.config import make_config
    from handrnn.models import build_model

    torch.manual_seed(0)
    hrnn = build_model(make_config(model="hrnn", num_units1=4, pool="mean"), 5).eval()
    ensemble = build_model(make_config(members=2, num_units=8, bidirectional=True, grouped_kernel=True), 5).eval()
    x, lengths = torch.randn(3, 7, 63), torch.tensor([7, 2, 5])
    x[1, 2:] = x[2, 5:] = -99.0
    return [hrnn, ensemble], x, lengths


def test_the_grouped_kernel_runs_where_kernel_runs_on_says_with_the_same_logits(monkeypatch):
    import handrnn.models as models

    calls = []
    kernel = models.grouped_rnn
    monkeypatch.setattr(models, "grouped_rnn", lambda *a, **k: calls.append(1) or kernel(*a, **k))
    nets, x, lengths = grouped_models()
    on_kernel = [net(x, lengths) for net in nets]
    assert len(calls) == 3  # the HRNN's finger and hand levels, the ensemble's one layer
    monkeypatch.setattr(models, "kernel_runs_on", lambda x: False)  # as on a GPU: PyTorch's layers
    for net, logits in zip(nets, on_kernel):
        torch.testing.assert_close(net(x, lengths), logits, rtol=1e-5, atol=1e-5)
    assert len(calls) == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (none on this machine)")
def test_grouped_models_on_cuda_give_the_cpu_logits():
    from handrnn.models import kernel_runs_on

    nets, x, lengths = grouped_models()
    assert kernel_runs_on(x) and not kernel_runs_on(x.cuda())
    for net in nets:
        cpu = net(x, lengths)
        torch.testing.assert_close(net.cuda()(x.cuda(), lengths).cpu(), cpu, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("grouped", [True, False])
def test_members_with_their_own_features_are_the_networks_of_those_features(grouped):
    """--member-features: each member reads its columns of the union's encoding, and gives the logits of the
    same network fed its own features alone; on the grouped kernel too (narrower members padded with zeros)."""
    from handrnn import features
    from handrnn.config import make_config
    from handrnn.models import Ensemble, build_model

    torch.manual_seed(0)
    shape = {"num_units": 8, "bidirectional": True, "pool": "mean", "grouped_kernel": grouped, "depth": 2}
    cfg = make_config(members=3, member_features="local,vel,orient;pose,vel;dists", **shape)
    model = build_model(cfg, 5).eval()
    assert isinstance(model, Ensemble) and model.can_fuse() == grouped
    rng = np.random.default_rng(0)
    seqs = [rng.normal(0, 30, (n, 63)) + 100 for n in LENGTHS]
    union = [torch.from_numpy(features.encode(s, cfg.feature_names())) for s in seqs]
    x = torch.nn.utils.rnn.pad_sequence(union, batch_first=True, padding_value=-99.0)
    got = model.forward_members(x, torch.tensor(LENGTHS))
    for i, (member, names) in enumerate(zip(model.members, cfg.member_feature_names())):
        alone = build_model(make_config(features=",".join(names), **shape), 5).eval()
        alone.load_state_dict(member.state_dict())  # the column index is rebuilt from the config, not stored
        own = [torch.from_numpy(features.encode(s, names)) for s in seqs]
        want = torch.cat([alone(o[None], torch.tensor([len(o)])) for o in own])
        torch.testing.assert_close(got[i], want, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(member(x, torch.tensor(LENGTHS)), got[i], rtol=1e-5, atol=1e-5)  # on its own
    assert set(model.state_dict()) == set(build_model(make_config(members=3, **shape), 5).state_dict())


@pytest.mark.parametrize("fused", [True, False])
def test_manifold_mixup_mixes_each_members_pooled_features_and_the_two_labels_losses(fused):
    """--mixup: a member's pooled features become lam * f + (1 - lam) * f[partner] before its head, and the
    loss is the cross-entropy against the same mixture of the two one-hot labels."""
    from handrnn.config import make_config
    from handrnn.models import build_model
    from handrnn.training import Pairing

    torch.manual_seed(0)
    cfg = make_config(members=2, num_units=8, bidirectional=True, pool="mean", layer_norm=True, grouped_kernel=True)
    model = build_model(cfg, 5).eval()
    for m in model.members:
        m.grouped = fused
    x, lengths, y = torch.randn(5, 9, 63), torch.tensor([9, 3, 6, 1, 7]), torch.tensor([0, 1, 2, 3, 4])
    pairing = Pairing(0.3, torch.tensor([2, 0, 4, 1, 3]))
    logits = model.forward_members(x, lengths, pairing.mix)
    for m, got in zip(model.members, logits):
        f = m.forward_features(x, lengths)
        torch.testing.assert_close(got, m.head(m.norm(0.3 * f + 0.7 * f[[2, 0, 4, 1, 3]])), rtol=1e-5, atol=1e-5)
    target = 0.3 * nn.functional.one_hot(y, 5).float() + 0.7 * nn.functional.one_hot(y[[2, 0, 4, 1, 3]], 5).float()
    torch.testing.assert_close(pairing.loss(logits[0], y, 0.0), nn.functional.cross_entropy(logits[0], target))
    assert torch.equal(pairing.major(y), y[[2, 0, 4, 1, 3]])  # lam < 0.5: the partner's label dominates
    plain = Pairing()
    torch.testing.assert_close(model.forward_members(x, lengths, plain.mix), model.forward_members(x, lengths))
    torch.testing.assert_close(
        plain.loss(logits[0], y, 0.1), nn.functional.cross_entropy(logits[0], y, label_smoothing=0.1)
    )


def one_step_head(members=1, **train):
    """The (first member's) head weights after one epoch of one batch, from seed 0, with `train`'s options."""
    from handrnn.config import make_config
    from handrnn.models import build_model
    from handrnn.training import train_one_epoch

    seqs = sequences()
    data = SequenceSet([s.numpy() for s in seqs], np.arange(len(seqs)) % 3, Normaliser())
    torch.manual_seed(0)
    model = build_model(make_config(members=members, num_units=8, pool="mean", dropout=0.0), 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    loss, acc = train_one_epoch(model, data, [np.arange(5)], opt, rng=np.random.default_rng(1), **train)
    assert np.isfinite(loss) and 0 <= acc <= 1
    return (model.members[0] if members > 1 else model).head.weight.detach().clone()


def test_mixup_pairs_are_drawn_from_the_epochs_generator_and_change_what_training_learns():
    from handrnn.training import Pairing

    a, b = (Pairing.draw(0.4, 6, np.random.default_rng(7), torch.device("cpu")) for _ in range(2))
    assert a.lam == b.lam and 0 <= a.lam <= 1 and torch.equal(a.partner, b.partner)
    assert sorted(a.partner.tolist()) == list(range(6))
    weights = [one_step_head(mixup=mixup) for mixup in (0.0, 0.4, 0.4)]
    assert not torch.equal(weights[0], weights[1])  # mixed pairs change the gradient
    assert torch.equal(weights[1], weights[2])  # the same generator, the same pairs


def test_peer_loss_is_each_members_kl_from_its_peers_mean_with_the_peers_held_fixed():
    """--distill: member m's term is KL(mean of the other members' probabilities || member m's), summed over
    members, averaged over the batch; its gradient for member m's logits is p_m - peers (per example / B)."""
    from handrnn.training import peer_loss

    torch.manual_seed(3)
    logits = torch.randn(3, 4, 5, requires_grad=True)
    p = logits.softmax(-1).detach()
    want = 0.0
    for m in range(3):
        q = (p.sum(0) - p[m]) / 2  # [B, C]
        want = want + (q * (q.log() - p[m].log())).sum() / 4
    loss = peer_loss(logits)
    torch.testing.assert_close(loss, want)
    loss.backward()
    peers = (p.sum(0, keepdim=True) - p) / 2
    torch.testing.assert_close(logits.grad, (p - peers) / 4)  # the targets pass no gradient
    agree = torch.randn(1, 4, 5).expand(3, 4, 5)
    assert float(peer_loss(agree)) == pytest.approx(0.0, abs=1e-6)  # members that agree: nothing to learn


def test_distill_changes_what_an_ensemble_learns_and_not_what_one_network_learns():
    weights = [one_step_head(members=2, distill=distill) for distill in (0.0, 1.0, 1.0)]
    assert not torch.equal(weights[0], weights[1])  # the peers' pull changes the gradient
    assert torch.equal(weights[1], weights[2])
    alone = [one_step_head(distill=distill) for distill in (0.0, 1.0)]  # one network has no peers: a preset's
    assert torch.equal(alone[0], alone[1])  # distill does not stop --members 1


def test_teacher_loss_is_each_networks_kl_from_the_teachers_probabilities():
    """--teacher: network m's term is KL(teacher's probabilities || network m's), summed over an ensemble's
    networks, averaged over the batch; its gradient for network m's logits is (p_m - teacher) / B."""
    from handrnn.training import teacher_loss

    torch.manual_seed(4)
    target = torch.randn(4, 5).softmax(-1)
    logits = torch.randn(2, 4, 5, requires_grad=True)
    p = logits.softmax(-1).detach()
    want = sum((target * (target.log() - p[m].log())).sum() / 4 for m in range(2))
    loss = teacher_loss(logits, target)
    torch.testing.assert_close(loss, want)
    loss.backward()
    torch.testing.assert_close(logits.grad, (p - target) / 4)
    one = logits[0].detach().clone().requires_grad_(True)  # one network: [B, C]
    torch.testing.assert_close(teacher_loss(one, target), (target * (target.log() - p[0].log())).sum() / 4)
    assert float(teacher_loss(target.log(), target)) == pytest.approx(0.0, abs=1e-6)  # agreeing: nothing to learn


def test_a_teacher_changes_what_one_network_learns_and_replaces_an_ensembles_peers():
    from handrnn.config import make_config
    from handrnn.data import Encoder
    from handrnn.models import build_model
    from handrnn.training import Teacher

    torch.manual_seed(9)
    model = build_model(make_config(num_units=4, pool="mean"), 3).eval()
    teacher = Teacher(model, Encoder(("xyz",), Normaliser()))  # reads the frames as they are, like the students
    alone = one_step_head(distill=1.0)
    taught = [one_step_head(distill=1.0, teacher=teacher) for _ in range(2)]
    assert not torch.equal(alone, taught[0]) and torch.equal(taught[0], taught[1])
    peers = one_step_head(members=2, distill=1.0)
    assert not torch.equal(peers, one_step_head(members=2, distill=1.0, teacher=teacher))
