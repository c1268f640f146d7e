"""Each augmentation's invariants: what it must keep, and what it may change only within its range."""

import numpy as np
import pytest

from handrnn import augment
from handrnn.augment import Augmentation
from handrnn.skeleton import BONES


def hand_sequence(frames=40, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 40, (21, 3)) + 300
    drift = rng.normal(0, 2, (1, 3))
    return base[None] + np.arange(frames)[:, None, None] * drift + rng.normal(0, 1, (frames, 21, 3))


def bone_lengths(x):
    parent, child = zip(*BONES)
    return np.linalg.norm(x[:, list(child)] - x[:, list(parent)], axis=-1)


def rotation_degrees(r):
    """The angle of a rotation matrix [3, 3], in degrees."""
    return np.degrees(np.arccos(np.clip((np.trace(r) - 1) / 2, -1, 1)))


def test_rotation_keeps_every_bone_length_and_moves_the_joints():
    x = hand_sequence()
    rng = np.random.default_rng(1)
    for _ in range(5):
        y = augment.rotate(x, rng, 45)
        assert np.allclose(bone_lengths(y), bone_lengths(x))
        assert np.allclose(y.reshape(-1, 3).mean(0), x.reshape(-1, 3).mean(0))  # about the centre
    assert not np.allclose(y, x)


def test_random_rotation_is_a_proper_rotation_within_the_angle():
    rng = np.random.default_rng(2)
    for _ in range(20):
        r = augment.random_rotation(rng, 30)
        assert np.allclose(r @ r.T, np.eye(3)) and np.linalg.det(r) == pytest.approx(1)
        angle = rotation_degrees(r)
        assert angle <= 30 + 1e-6


def test_scale_multiplies_all_bones_by_one_factor_in_range():
    x = hand_sequence()
    y = augment.scale(x, np.random.default_rng(3), 0.2)
    ratio = bone_lengths(y) / bone_lengths(x)
    assert np.allclose(ratio, ratio.flat[0]) and 0.8 <= ratio.flat[0] <= 1.2


def test_bones_scales_each_bone_by_its_own_factor_keeping_directions_and_the_wrist():
    x = hand_sequence()
    y = augment.bones(x, np.random.default_rng(9), 0.2)
    ratio = bone_lengths(y) / bone_lengths(x)  # [T, bones]
    assert np.allclose(ratio, ratio[:1])  # one factor per bone, the same in every frame
    assert np.all((0.8 <= ratio) & (ratio <= 1.2)) and np.ptp(ratio[0]) > 0.05  # bones differ from each other
    parent, child = map(list, zip(*BONES))
    unit = lambda z: (z[:, child] - z[:, parent]) / bone_lengths(z)[..., None]  # noqa: E731
    assert np.allclose(unit(y), unit(x))  # every bone points where it did: joint angles unchanged
    assert np.allclose(y[:, 0], x[:, 0])  # the wrist stays
    assert not np.allclose(y, x)
    assert np.allclose(augment.bones(x, np.random.default_rng(9), 0.0), x)
    with pytest.raises(ValueError, match="21 joints"):
        augment.bones(np.zeros((5, 16, 3)), np.random.default_rng(0), 0.1)


def handedness(x):
    """Sign of the triple product of three bones leaving the wrist, per frame: which hand it is."""
    w = x[:, 0]
    return np.sign(np.einsum("ti,ti->t", np.cross(x[:, 1] - w, x[:, 2] - w), x[:, 3] - w))


def test_mirror_reflects_left_right_keeping_bones_and_flipping_the_hand():
    x = hand_sequence()
    always = np.random.default_rng(0)
    y = augment.mirror(x, always, 0.999999)
    assert np.allclose(bone_lengths(y), bone_lengths(x))
    assert np.allclose(y.reshape(-1, 3).mean(0), x.reshape(-1, 3).mean(0))  # about the centre
    assert np.allclose(y[..., 1:], x[..., 1:]) and not np.allclose(y[..., 0], x[..., 0])  # only x changes
    assert np.array_equal(handedness(y), -handedness(x)) and np.all(handedness(x) != 0)
    assert np.allclose(augment.mirror(y, always, 0.999999), x)  # twice: the sequence itself
    rng = np.random.default_rng(1)
    flipped = [not np.array_equal(augment.mirror(x, rng, 0.3), x) for _ in range(2000)]
    assert np.mean(flipped) == pytest.approx(0.3, abs=0.04)
    assert augment.mirror(x, rng, 0.0) is x


def test_jitter_adds_noise_of_the_given_size():
    x = hand_sequence(200)
    y = augment.jitter(x, np.random.default_rng(4), 2.0)
    assert np.std(y - x) == pytest.approx(2.0, rel=0.05)


def test_speed_resamples_within_range_keeping_first_and_last_frames():
    x = hand_sequence(40)
    rng = np.random.default_rng(5)
    for _ in range(20):
        y = augment.speed(x, rng, 0.25)
        assert 40 / 1.25 - 1 <= len(y) <= 40 * 1.25 + 1
        assert np.allclose(y[0], x[0]) and np.allclose(y[-1], x[-1])
    assert np.allclose(augment.resample(x, 40), x)
    half = augment.resample(x, 79)  # every original frame, and the midpoints between them
    assert np.allclose(half[::2], x) and np.allclose(half[1::2], (x[:-1] + x[1:]) / 2)


def test_crop_keeps_a_contiguous_window_and_drop_keeps_order():
    x = hand_sequence(50)
    rng = np.random.default_rng(6)
    for _ in range(20):
        y = augment.crop(x, rng, 0.3)
        start = int(np.flatnonzero(np.all(np.isclose(x, y[0]), axis=(1, 2)))[0])
        assert len(y) >= 0.7 * 50 - 1 and np.array_equal(y, x[start : start + len(y)])
        z = augment.drop(x, rng, 0.2)
        kept = [int(np.flatnonzero(np.all(x == f, axis=(1, 2)))[0]) for f in z]
        assert kept == sorted(kept) and len(z) >= augment.MIN_FRAMES
    assert len(augment.crop(x[:2], rng, 0.9)) == 2


def test_augmentation_chains_steps_reproducibly_and_is_off_by_default():
    frames = hand_sequence(30).reshape(30, -1)
    assert not Augmentation()
    a = Augmentation(speed=0.2, crop=0.2, rotate=30, scale=0.1, jitter=1.0)
    assert a
    y1, y2 = a(frames, np.random.default_rng(7)), a(frames, np.random.default_rng(7))
    assert y1.dtype == np.float32 and y1.shape[1] == 63 and np.array_equal(y1, y2)
    assert not np.array_equal(y1, a(frames, np.random.default_rng(8)))
    assert np.array_equal(
        Augmentation(rotate=30, mirror=0.0)(frames, np.random.default_rng(7)),
        Augmentation(rotate=30)(frames, np.random.default_rng(7)),
    )  # an off step draws nothing


def test_warp_plays_stretches_at_their_own_speeds_keeping_length_ends_and_order():
    t = np.arange(61, dtype=np.float64)  # 60 steps: the 4 stretches are 15 output frames each
    ramp = np.broadcast_to(t[:, None, None], (61, 21, 3)).copy()  # each frame holds its own time
    rng = np.random.default_rng(10)
    for _ in range(20):
        y = augment.warp(ramp, rng, 0.5)
        read = y[:, 0, 0]  # the input time each output frame shows
        assert y.shape == ramp.shape and read[0] == 0 and read[-1] == pytest.approx(60)
        speeds = np.diff(read).reshape(augment.WARP_STRETCHES, 15)  # input frames per output frame
        assert np.all(speeds > 0)  # time only runs forward
        assert np.allclose(speeds, speeds[:, :1])  # one speed within each stretch
        assert speeds.max() / speeds.min() <= 1.5**2 + 1e-9  # each factor in [1/1.5, 1.5]
    firsts = {round(float(augment.warp(ramp, rng, 0.5)[1, 0, 0]), 6) for _ in range(10)}
    assert len(firsts) > 5  # drawn afresh each time
    assert np.allclose(augment.warp(ramp, rng, 0.0), ramp)  # no warp: the sequence itself
    assert np.array_equal(augment.warp(ramp[:1], rng, 0.5), ramp[:1])


def test_drift_turns_the_camera_gradually_keeping_every_bone_length():
    x = hand_sequence(30)
    rng = np.random.default_rng(11)
    for _ in range(5):
        y = augment.drift(x, rng, 40)
        assert np.allclose(bone_lengths(y), bone_lengths(x))
        assert np.allclose(y[0], x[0])  # no turn yet at the first frame
        c = x.reshape(-1, 3).mean(0)
        turn = np.linalg.lstsq(x[-1] - c, y[-1] - c, rcond=None)[0]  # the last frame's rotation
        angle = rotation_degrees(turn)
        assert np.allclose(turn @ turn.T, np.eye(3), atol=1e-6) and angle <= 40 + 1e-6
        half = np.linalg.lstsq(x[15] - c, y[15] - c, rcond=None)[0]
        mid = rotation_degrees(half)
        assert mid == pytest.approx(angle * 15 / 29, abs=1e-4)  # growing evenly with time
    assert not np.allclose(y[-1], x[-1])
    assert np.allclose(augment.drift(x, rng, 0.0), x)


def test_new_steps_off_draw_nothing_and_on_join_the_chain():
    frames = hand_sequence(30).reshape(30, -1)
    base = Augmentation(speed=0.2, rotate=30, jitter=1.0)
    same = Augmentation(speed=0.2, warp=0.0, rotate=30, drift=0.0, jitter=1.0)
    assert np.array_equal(base(frames, np.random.default_rng(3)), same(frames, np.random.default_rng(3)))
    warped = Augmentation(speed=0.2, warp=0.5, rotate=30, drift=20, jitter=1.0)
    y = warped(frames, np.random.default_rng(3))
    assert y.shape[1] == 63 and np.array_equal(y, warped(frames, np.random.default_rng(3)))
    assert not np.array_equal(y, base(frames, np.random.default_rng(3)))
    assert Augmentation(warp=0.3) and Augmentation(drift=5.0)
