"""Online use of a trained model: frames as they arrive, and long recordings of several actions.

`Streamer` carries the recurrent state from frame to frame (no re-reading of the past), so its prediction
after the last frame is the whole-sequence prediction. A stream cannot average the palm size over frames
still to come, so the features of a stream scale lengths by the first frame's palm size.

`windows` classifies the last `window` frames every `stride` frames (any model, bidirectional included), and
`segments` merges consecutive windows with the same top action: a long recording cut into actions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from .data import Encoder, held_out
from .datasets import is_number
from .errors import HandRNNError
from .features import LONG_STRIDE, sequence_palm
from .models import HRNN, Ensemble, RNNClassifier
from .skeleton import NUM_COORDS, NUM_FEATURES, NUM_JOINTS
from .training import device_of, predict


def can_stream(model: torch.nn.Module) -> bool:
    """Whether the model can carry its state frame by frame (no backward layer, no attention or pooled HRNN)."""
    if isinstance(model, Ensemble):
        return all(can_stream(m) for m in model.members)
    if isinstance(model, RNNClassifier):
        return not model.bidirectional and model.pool_kind != "attention"
    return isinstance(model, HRNN) and model.pool is None


class FrameEncoder:
    """Encodes a stream chunk by chunk exactly as the encoder encodes the whole sequence with the same palm
    size: the frames the model reads (every `step`-th of the stream, from its first) and no other, velocities
    reaching back into those kept from earlier chunks. A chunk may give no row."""

    def __init__(self, encoder: Encoder):
        self.encoder, self.palm, self.context, self.seen = encoder, None, None, 0

    def __call__(self, chunk: np.ndarray) -> np.ndarray:
        if self.context is None:
            self.context = np.zeros((0, chunk.shape[1]), np.float32)
            if tuple(self.encoder.names) != ("xyz",):  # palm-scaled features: FPHA's hand
                self.palm = sequence_palm(chunk[:1].reshape(1, NUM_JOINTS, NUM_COORDS).astype(np.float64))
        step = self.encoder.step
        chunk, self.seen = chunk[-self.seen % step :: step], self.seen + len(chunk)
        frames = np.concatenate([self.context, chunk])
        encoded = self.encoder.encode_kept(frames, self.palm)[len(self.context) :]
        self.context = frames[-LONG_STRIDE:]
        return encoded


class Streamer:
    """Probabilities after each chunk of frames, the recurrent state carried between chunks."""

    def __init__(self, model: torch.nn.Module, encoder: Encoder):
        if not can_stream(model):
            raise HandRNNError(
                "this model reads whole sequences (a backward layer, attention, or a pooled HRNN) and cannot "
                "carry its state: give --window W to classify the last W frames instead"
            )
        self.model, self.encode, self.state = model.eval(), FrameEncoder(encoder), None
        self.probabilities: np.ndarray | None = None

    @property
    def frames(self) -> int:
        """Frames pushed so far (read or not)."""
        return self.encode.seen

    @torch.no_grad()
    def push(self, chunk: np.ndarray) -> np.ndarray:
        """chunk [n, 63] -> probabilities [C] after its last frame (those of the last frame the model read,
        when it reads every k-th frame and the chunk holds none of them)."""
        encoded = self.encode(chunk)
        if len(encoded):
            x = torch.from_numpy(encoded)[None].to(device_of(self.model))
            logits, self.state = self.model.stream(x, self.state)
            self.probabilities = torch.softmax(logits[0], -1).cpu().numpy()
        return self.probabilities


@torch.no_grad()
def classify(model: torch.nn.Module, encoder: Encoder, frames: np.ndarray, phases: bool = False) -> np.ndarray:
    """Probabilities [C] of one whole sequence [T, 63]; with `phases`, their mean over the readings from each
    phase of the encoder's step (`data.Phases`)."""
    return torch.softmax(predict(model, held_out([frames], np.zeros(1), encoder, phases)), -1)[0].numpy()


def windows(
    model: torch.nn.Module,
    encoder: Encoder,
    chunks: Iterable[np.ndarray],
    window: int,
    stride: int,
    phases: bool = False,
) -> Iterator[tuple[int, np.ndarray]]:
    """(frames seen, probabilities of the last `window` frames, fewer at the start) every `stride` frames and
    after the last frame; each window is classified as a sequence of its own (`classify`, with `phases`)."""
    if window < 1 or stride < 1:
        raise HandRNNError(f"--window and --stride must be at least 1, got {window} and {stride}")
    model.eval()
    kept, seen, last = [], 0, 0
    for chunk in chunks:
        for frame in chunk:
            kept = kept[-(window - 1) :] + [frame] if window > 1 else [frame]
            seen += 1
            if seen % stride == 0:
                last = seen
                yield seen, classify(model, encoder, np.stack(kept), phases)
    if seen > last:
        yield seen, classify(model, encoder, np.stack(kept), phases)


@dataclass
class Segment:
    start: int  # first frame (0-based) of the first window
    end: int  # one past the last frame of the last window
    action: int
    probability: float  # mean over the segment's windows


def segments(results: list[tuple[int, np.ndarray]], window: int) -> list[Segment]:
    """Consecutive windows with the same top action, merged; a window covers its last `window` frames."""
    out: list[Segment] = []
    probs: list[float] = []
    for seen, p in results:
        action = int(p.argmax())
        start = max(0, seen - window)
        if out and out[-1].action == action:
            out[-1].end = seen
            probs.append(float(p[action]))
            out[-1].probability = float(np.mean(probs))
        else:
            if out:
                start = max(start, out[-1].end)
            probs = [float(p[action])]
            out.append(Segment(start, seen, action, probs[0]))
    return out


def parse_frame(line: str, number: int, width: int = NUM_FEATURES) -> np.ndarray | None:
    """One line of a stream: `width` numbers (FPHA: 63), or a frame number and those (skeleton.txt's layout);
    None for a blank line."""
    tokens = line.replace(",", " ").split()
    if not tokens:
        return None
    if len(tokens) == width + 1:
        tokens = tokens[1:]
    if len(tokens) != width:
        raise HandRNNError(
            f"stdin:{number}: expected {width} numbers (or a frame number and {width}), found {len(tokens)}"
        )
    try:
        frame = np.array(tokens, dtype=np.float32)
    except ValueError:
        bad = next(t for t in tokens if not is_number(t))
        raise HandRNNError(f"stdin:{number}: not a number: {bad!r}") from None
    if not np.isfinite(frame).all():
        raise HandRNNError(f"stdin:{number}: NaN or infinite value")
    return frame


def read_frames(lines: Iterable[str], joints: int = NUM_JOINTS) -> Iterator[np.ndarray]:
    """Frames [1, 3 x joints] from lines as they arrive."""
    for number, line in enumerate(lines, start=1):
        frame = parse_frame(line, number, joints * NUM_COORDS)
        if frame is not None:
            yield frame[None]
