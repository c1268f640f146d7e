import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from handrnn.recurrent import grouped_rnn

G, IN, H, T = 3, 4, 5, 9
TORCH = {"rnn": nn.RNN, "gru": nn.GRU}


def torch_layers(cell, seed=0):
    torch.manual_seed(seed)
    return [TORCH[cell](IN, H, batch_first=True).double() for _ in range(G)]


def stacked(layers):
    names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    return [torch.stack([getattr(m, n).detach() for m in layers]).requires_grad_() for n in names]


def reference(layers, x, lengths, h0):
    """Each group through its own torch layer over packed sequences: outputs (0 past the end), final states."""
    outs, lasts = [], []
    for g, m in enumerate(layers):
        p = pack_padded_sequence(x[..., g * IN : (g + 1) * IN], lengths, batch_first=True, enforce_sorted=False)
        o, last = m(p, h0[g : g + 1])
        outs.append(pad_packed_sequence(o, batch_first=True, total_length=x.shape[1])[0])
        lasts.append(last[0])
    return torch.cat(outs, -1), torch.stack(lasts)


@pytest.mark.parametrize("cell", list(TORCH))
@pytest.mark.parametrize("lengths", [[9, 3, 5, 1, 9, 7], [2, 2, 2], [1], [4, 9]])
def test_grouped_rnn_matches_torch_layers_outputs_and_all_gradients(cell, lengths):
    layers = torch_layers(cell)
    lengths = torch.tensor(lengths)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(len(lengths), T, G * IN, dtype=torch.double, generator=g, requires_grad=True)
    h0 = torch.randn(G, len(lengths), H, dtype=torch.double, generator=g, requires_grad=True)
    params = stacked(layers)
    out, last = grouped_rnn(cell, x, lengths, *params, h0)
    ref_out, ref_last = reference(layers, x, lengths, h0)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(last, ref_last)
    w_out, w_last = torch.randn_like(out), torch.randn_like(last)
    ours = torch.autograd.grad((out * w_out).sum() + (last * w_last).sum(), [x, h0, *params])
    theirs = torch.autograd.grad(
        (ref_out * w_out).sum() + (ref_last * w_last).sum(), [x, h0, *[p for m in layers for p in m.parameters()]]
    )
    torch.testing.assert_close(ours[0], theirs[0])
    torch.testing.assert_close(ours[1], theirs[1])
    for k in range(4):  # w_ih, w_hh, b_ih, b_hh of every group
        torch.testing.assert_close(ours[2 + k], torch.stack([theirs[2 + 4 * gr + k] for gr in range(G)]))


@pytest.mark.parametrize("cell", list(TORCH))
def test_grouped_rnn_passes_gradcheck(cell):
    params = stacked(torch_layers(cell))
    lengths = torch.tensor([3, 5, 1])
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 5, G * IN, dtype=torch.double, generator=g, requires_grad=True)
    h0 = torch.randn(G, 3, H, dtype=torch.double, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, h0, *p: grouped_rnn(cell, x, lengths, *p, h0), (x, h0, *params))


@pytest.mark.parametrize("cell", list(TORCH))
def test_grouped_rnn_without_lengths_runs_every_frame_and_continues_from_a_state(cell):
    params = stacked(torch_layers(cell))
    x = torch.randn(2, T, G * IN, dtype=torch.double)
    with torch.no_grad():
        whole, last = grouped_rnn(cell, x, None, *params)
        first, state = grouped_rnn(cell, x[:, :4], None, *params)
        rest, last2 = grouped_rnn(cell, x[:, 4:], None, *params, state)
    torch.testing.assert_close(torch.cat([first, rest], 1), whole)
    torch.testing.assert_close(last2, last)
    torch.testing.assert_close(last, whole[:, -1].unflatten(1, (G, H)).transpose(0, 1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (none on this machine)")
@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_grouped_rnn_on_cuda_matches_the_cpu(cell):
    torch.manual_seed(0)
    groups, hidden, inputs, gates = 5, 8, 6, {"rnn": 1, "gru": 3}[cell]
    x = torch.randn(4, 9, groups * inputs)
    lengths = torch.tensor([9, 3, 7, 1])
    weights = [
        torch.randn(groups, gates * hidden, inputs) * 0.3,
        torch.randn(groups, gates * hidden, hidden) * 0.3,
        torch.randn(groups, gates * hidden) * 0.1,
        torch.randn(groups, gates * hidden) * 0.1,
    ]
    cpu_out, cpu_last = grouped_rnn(cell, x, lengths, *weights)
    gpu_out, gpu_last = grouped_rnn(cell, x.cuda(), lengths, *[w.cuda() for w in weights])
    torch.testing.assert_close(gpu_out.cpu(), cpu_out, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(gpu_last.cpu(), cpu_last, atol=1e-5, rtol=1e-4)
