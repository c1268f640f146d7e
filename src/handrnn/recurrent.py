"""handrnn's recurrent kernel: G independent layers ("groups", e.g. the five fingers) run as one.

Per frame it does one batched matmul for all groups (no block-diagonal zeros), skips every sequence's
padded frames (rows are sorted by length, so frame t only touches the first batch_sizes[t] rows), and in
the backward pass computes the weight gradients as one large batched matmul after the loop instead of
one small matmul per frame. Cells: tanh RNN and GRU, with torch.nn.RNN/GRU's maths and gate order;
tests compare outputs and all gradients with them. (No LSTM: PyTorch runs its LSTM through oneDNN,
which measured faster on CPU than this kernel and than a block-diagonal fused LSTM.)
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable


class _RNN:
    @staticmethod
    def step(g, gh, state):
        h = gh.add_(g).tanh_()
        return h, (h,)

    @staticmethod
    def back(d, saved, state, d_gh, d_extra):
        """d: gradient of the new state -> writes the pre-activation gradients into d_gh; returns the
        gradient of the old state through paths other than h @ w_hh (None: there are none)."""
        (h,) = saved
        torch.mul(d, 1 - h * h, out=d_gh)
        return None


class _GRU:
    @staticmethod
    def step(g, gh, state):
        hidden = state.shape[-1]
        rz = gh[..., : 2 * hidden].add_(g[..., : 2 * hidden]).sigmoid_()  # r, z, in place in gh
        ghn = gh[..., 2 * hidden :]
        n = torch.addcmul(g[..., 2 * hidden :], rz[..., :hidden], ghn).tanh_()
        return torch.addcmul(n, rz[..., hidden:], state - n), (rz, n, ghn)

    @staticmethod
    def back(d, saved, state, d_gh, d_extra):
        """d_extra: the gradient of gi's n part (r and z have the same gradient in gi and gh)."""
        rz, n, ghn = saved
        hidden = n.shape[-1]
        r, z = rz[..., :hidden], rz[..., hidden:]
        dn = torch.mul(d * (1 - z), 1 - n * n, out=d_extra)
        drz = torch.cat([dn * ghn, d * (state - n)], -1)
        torch.mul(drz.mul_(rz), 1 - rz, out=d_gh[..., : 2 * hidden])
        torch.mul(dn, r, out=d_gh[..., 2 * hidden :])
        return d * z


CELLS = {"rnn": _RNN, "gru": _GRU}


class _Grouped(torch.autograd.Function):
    @staticmethod
    def forward(ctx, cell, gi, h0, w_hh, b_hh, lengths, batch_sizes):
        """gi [G, T, B, K x H] input projections (b_ih included), h0 [G, B, H], w_hh [G, K x H, H],
        b_hh [G, K x H], lengths [B] (non-increasing), batch_sizes: T ints, the rows still inside their
        sequence at frame t. -> out [G, T, B, H] (0 after a sequence's end), last [G, B, H] (the state
        after each sequence's last frame)."""
        groups, steps, batch, _ = gi.shape
        ragged = batch_sizes[-1] < batch  # some rows end early: their later frames must read 0
        hs = (gi.new_zeros if ragged else gi.new_empty)(groups, steps + 1, batch, h0.shape[-1])  # hs[:, t+1]: after t
        hs[:, 0] = h0
        w_t, bias = w_hh.transpose(1, 2), b_hh.unsqueeze(1)
        saved = []
        for t, b in enumerate(batch_sizes):
            h = hs[:, t, :b]
            hs[:, t + 1, :b], keep = cell.step(gi[:, t, :b], torch.baddbmm(bias, h, w_t), h)
            saved.append(keep)
        last = hs[:, lengths.to(hs.device), torch.arange(batch, device=hs.device)]
        ctx.cell, ctx.saved, ctx.batch_sizes, ctx.ragged = cell, saved, batch_sizes, ragged
        ctx.save_for_backward(hs, w_hh)
        ctx.set_materialize_grads(False)
        return hs[:, 1:], last

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_last):
        hs, w_hh = ctx.saved_tensors
        cell, hidden = ctx.cell, w_hh.shape[-1]
        groups, steps, batch = hs.shape[0], hs.shape[1] - 1, hs.shape[2]
        alloc = hs.new_zeros if ctx.ragged else hs.new_empty
        d_gh = alloc(groups, steps, batch, w_hh.shape[1])  # gradient of gh (and of gi, but for the GRU's n)
        d_n = alloc(groups, steps, batch, hidden) if cell is _GRU else None
        dh = hs.new_zeros(groups, batch, hidden) if d_last is None else d_last.clone()  # a row waits here
        for t in range(steps - 1, -1, -1):  # until the loop reaches its last frame
            b = ctx.batch_sizes[t]
            d = dh[:, :b] if d_out is None else dh[:, :b] + d_out[:, t, :b]
            direct = cell.back(d, ctx.saved[t], hs[:, t, :b], d_gh[:, t, :b], None if d_n is None else d_n[:, t, :b])
            if direct is None:
                dh[:, :b] = torch.bmm(d_gh[:, t, :b], w_hh)
            else:
                dh[:, :b] = torch.baddbmm(direct, d_gh[:, t, :b], w_hh)
        d_w = torch.bmm(d_gh.flatten(1, 2).transpose(1, 2), hs[:, :-1].flatten(1, 2))  # all frames at once
        d_gi = d_gh if d_n is None else torch.cat([d_gh[..., : 2 * hidden], d_n], -1)
        return None, d_gi, dh, d_w, d_gh.sum((1, 2)), None, None


def grouped_rnn(
    cell: str,
    x: torch.Tensor,
    lengths: torch.Tensor | None,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
    h0: torch.Tensor | None = None,
):
    """G layers of `cell` (rnn = tanh, gru) over x [B, T, G x I] (group g reads columns g*I:(g+1)*I),
    weights stacked per group: w_ih [G, K x H, I], w_hh [G, K x H, H], b_ih and b_hh [G, K x H] (K gates,
    torch's order); lengths [B] (None: all T frames); h0 [G, B, H] (None: zeros).
    -> (out [B, T, G x H], group g in columns g*H:(g+1)*H, zero after each sequence's end;
        last [G, B, H], the state after each sequence's last frame)."""
    kind = CELLS[cell]
    batch, steps, _ = x.shape
    groups, gates, hidden = w_hh.shape
    if lengths is None:
        lengths = torch.full((batch,), steps)
    lengths = lengths.cpu()
    order = torch.argsort(lengths, descending=True, stable=True)
    lengths = lengths[order]
    order = order.to(x.device)  # the lengths stay on the CPU (batch sizes), the rows go where x is
    batch_sizes = (lengths[None, :] > torch.arange(int(lengths[0]))[:, None]).sum(1).tolist()
    x = x[order, : len(batch_sizes)].unflatten(2, (groups, -1)).permute(2, 1, 0, 3)  # [G, T', B, I]
    gi = torch.baddbmm(b_ih.unsqueeze(1), x.flatten(1, 2), w_ih.transpose(1, 2))  # all frames at once
    gi = gi.view(groups, x.shape[1], batch, gates)
    h0 = x.new_zeros(groups, batch, hidden) if h0 is None else h0[:, order]
    out, last = _Grouped.apply(kind, gi, h0, w_hh, b_hh, lengths, batch_sizes)
    out = out.permute(2, 1, 0, 3).flatten(2)  # [B, T', G x H]
    if out.shape[1] < steps:
        out = torch.nn.functional.pad(out, (0, 0, 0, steps - out.shape[1]))
    inverse = torch.argsort(order)  # on x's device
    return out[inverse], last[:, inverse]
