import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from handrnn.recurrent import grouped_gru

G, IN, H, T = 3, 4, 5, 9


def torch_grus(seed=0):
    torch.manual_seed(seed)
    return [nn.GRU(IN, H, batch_first=True).double() for _ in range(G)]


def stacked(grus):
    names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    return [torch.stack([getattr(m, n).detach() for m in grus]).requires_grad_() for n in names]


def reference(grus, x, lengths, h0):
    """Each group through its own nn.GRU over packed sequences: outputs (0 past the end) and final states."""
    outs, lasts = [], []
    for g, m in enumerate(grus):
        p = pack_padded_sequence(x[..., g * IN : (g + 1) * IN], lengths, batch_first=True, enforce_sorted=False)
        o, h = m(p, h0[g : g + 1])
        outs.append(pad_packed_sequence(o, batch_first=True, total_length=x.shape[1])[0])
        lasts.append(h[0])
    return torch.cat(outs, -1), torch.stack(lasts)


@pytest.mark.parametrize("lengths", [[9, 3, 5, 1, 9, 7], [2, 2, 2], [1], [4, 9]])
def test_grouped_gru_matches_torch_gru_outputs_and_all_gradients(lengths):
    grus = torch_grus()
    lengths = torch.tensor(lengths)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(len(lengths), T, G * IN, dtype=torch.double, generator=g, requires_grad=True)
    h0 = torch.randn(G, len(lengths), H, dtype=torch.double, generator=g, requires_grad=True)
    params = stacked(grus)
    out, last = grouped_gru(x, lengths, *params, h0=h0)
    ref_out, ref_last = reference(grus, x, lengths, h0)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(last, ref_last)
    w_out, w_last = torch.randn_like(out), torch.randn_like(last)
    ours = torch.autograd.grad((out * w_out).sum() + (last * w_last).sum(), [x, h0, *params])
    theirs = torch.autograd.grad((ref_out * w_out).sum() + (ref_last * w_last).sum(),
                                 [x, h0, *[p for m in grus for p in m.parameters()]])  # fmt: skip
    torch.testing.assert_close(ours[0], theirs[0])
    torch.testing.assert_close(ours[1], theirs[1])
    for k in range(4):  # w_ih, w_hh, b_ih, b_hh of every group
        torch.testing.assert_close(ours[2 + k], torch.stack([theirs[2 + 4 * gr + k] for gr in range(G)]))


def test_grouped_gru_passes_gradcheck():
    params = stacked(torch_grus())
    lengths = torch.tensor([3, 5, 1])
    x = torch.randn(3, 5, G * IN, dtype=torch.double, requires_grad=True)
    h0 = torch.randn(G, 3, H, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, h0, *p: grouped_gru(x, lengths, *p, h0=h0), (x, h0, *params))


def test_grouped_gru_without_lengths_runs_every_frame_and_continues_from_a_state():
    grus = torch_grus()
    params = stacked(grus)
    x = torch.randn(2, T, G * IN, dtype=torch.double)
    with torch.no_grad():
        whole, last = grouped_gru(x, None, *params)
        first, state = grouped_gru(x[:, :4], None, *params)
        rest, last2 = grouped_gru(x[:, 4:], None, *params, h0=state)
    torch.testing.assert_close(torch.cat([first, rest], 1), whole)
    torch.testing.assert_close(last2, last)
    torch.testing.assert_close(last, whole[:, -1].unflatten(1, (G, H)).transpose(0, 1))
