"""Reading and writing hand-action data: the FPHA tree, its split file, CW3 containers, and a parse cache."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import HandRNNError
from .skeleton import (
    BONE_PROPORTION_LIMIT,
    BONES,
    MCP_JOINTS,
    NUM_COORDS,
    NUM_FEATURES,
    NUM_JOINTS,
    PALM_MM,
    REFERENCE_BONES_MM,
)

log = logging.getLogger(__name__)

POSE_DIR = "Hand_pose_annotation_v1"
SPLIT_FILE = "data_split_action_recognition.txt"
SKELETON_FILE = "skeleton.txt"
LABELS_FILE = "labels.csv"  # marks an own-data folder: file, label[, subject][, split]
DATA_ENV = "HANDRNN_DATA"
CACHE_ENV = "HANDRNN_CACHE"
CACHE_VERSION = 2
MAX_ABS_MM = 5000.0  # a hand joint 5 m from the camera is a broken file, not a pose
TRAIN, TEST, UNSPLIT = 0, 1, -1  # values of HandActions.split


@dataclass
class HandActions:
    """A labelled set of variable-length hand-pose sequences.

    sequences[i]: float32 [T_i, 63] (21 joints x xyz); labels: int64 [N] in 0..C-1;
    split: int8 [N], the split that came with the data (TRAIN/TEST, or UNSPLIT);
    subjects: int64 [N] (0 = unknown).
    """

    sequences: list[np.ndarray]
    labels: np.ndarray
    actions: list[str]
    ids: list[str]
    subjects: np.ndarray
    split: np.ndarray
    skipped: list[str] = field(default_factory=list)

    @classmethod
    def from_lists(cls, sequences, labels, actions, ids, subjects, split, skipped=()) -> HandActions:
        """From the lists a reader collects, one entry per sequence."""
        return cls(
            sequences=list(sequences),
            labels=np.array(labels, dtype=np.int64),
            actions=list(actions),
            ids=list(ids),
            subjects=np.array(subjects, dtype=np.int64),
            split=np.array(split, dtype=np.int8),
            skipped=list(skipped),
        )

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def joints(self) -> int:
        """Joints per frame (FPHA: 21); every sequence has 3 values per joint."""
        return self.sequences[0].shape[1] // NUM_COORDS if self.sequences else NUM_JOINTS

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(s) for s in self.sequences], dtype=np.int64)

    def subset(self, index: np.ndarray) -> HandActions:
        index = np.asarray(index, dtype=np.int64)
        return HandActions(
            sequences=[self.sequences[i] for i in index],
            labels=self.labels[index],
            actions=self.actions,
            ids=[self.ids[i] for i in index],
            subjects=self.subjects[index],
            split=self.split[index],
        )


def as_frames(x, where: str, joints: int = NUM_JOINTS) -> np.ndarray:
    """One sequence as float32 [T, 3 x joints] from an array [T, 3 x joints] or [T, joints, 3] (FPHA: 21
    joints, [T, 63]); one clear error naming `where` for anything else (not numeric, another shape, no frames,
    NaN or infinity)."""
    width = joints * NUM_COORDS
    try:
        x = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError):
        raise HandRNNError(f"{where}: not numeric") from None
    if x.ndim == 3 and x.shape[1:] == (joints, NUM_COORDS):
        x = x.reshape(len(x), width)
    if x.ndim != 2 or x.shape[1] != width or len(x) == 0:
        raise HandRNNError(
            f"{where}: expected [T, {width}] or [T, {joints}, {NUM_COORDS}] with T >= 1, found {x.shape}"
        )
    if not np.isfinite(x).all():
        raise HandRNNError(f"{where}: holds NaN or infinite values")
    return x


def check_hand(frames: np.ndarray, where: str) -> None:
    """Refuse a sequence that is not in millimetres or not in FPHA's joint order (a model would still give
    a confident answer): the palm size must be plausible and the bone lengths in FPHA's proportions. Another
    joint layout (own data with its layout.json) has no reference hand: nothing to check."""
    if frames.shape[1] != NUM_FEATURES:
        return
    joints = frames.reshape(len(frames), NUM_JOINTS, NUM_COORDS).astype(np.float64)
    palm = float(np.linalg.norm(joints[:, list(MCP_JOINTS)] - joints[:, :1], axis=-1).mean())
    low, high = PALM_MM
    if not low <= palm <= high:
        hint = " (metres? multiply by 1000)" if palm < 1 else " (centimetres? multiply by 10)" if palm < low else ""
        raise HandRNNError(
            f"{where}: the palm measures {palm:.3g} units from wrist to knuckles where a hand in millimetres "
            f"measures {low:g}-{high:g}: give coordinates in millimetres{hint}"
        )
    parent, child = (list(side) for side in zip(*BONES))
    bones = np.linalg.norm(joints[:, child] - joints[:, parent], axis=-1).mean(0)
    ref = np.asarray(REFERENCE_BONES_MM)
    score = float(np.abs(np.log(np.maximum(bones, 1e-9) / bones.sum()) - np.log(ref / ref.sum())).mean())
    if score > BONE_PROPORTION_LIMIT:
        raise HandRNNError(
            f"{where}: the bone lengths do not fit FPHA's joint order (wrist; thumb to pinky MCPs; then PIP, DIP, "
            f"TIP of each finger), mismatch {score:.2f} > {BONE_PROPORTION_LIMIT}: reorder the joints"
        )


def read_sequence(path: Path, joints: int = NUM_JOINTS) -> np.ndarray:
    """One sequence: an FPHA skeleton.txt (text), a .npy array [T, 63] or [T, 21, 3], or a .csv of one frame
    per row (63 values, or a frame number and 63; a header line is skipped). Another layout's `joints`
    count gives 3 x joints values per frame instead of 63."""
    if path.is_dir():
        raise HandRNNError(f"{path}: is a directory, expected a skeleton file")
    if not path.exists():
        raise HandRNNError(f"{path}: no such file")
    regular_file(path)
    if path.suffix == ".npy":
        try:
            x = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:
            raise HandRNNError(f"{path}: not a readable .npy array ({e})") from None
        if x.dtype.kind not in "fiu":
            raise HandRNNError(f"{path}: expected a numeric array, found {x.dtype}")
        return as_frames(x, str(path), joints)
    if path.suffix.lower() == ".csv":
        return read_csv(path, joints)
    x = parse_skeleton(path, joints)
    if x is None:
        raise HandRNNError(f"{path}: empty")
    return x


MAX_FRAMES = 20_000  # FPHA's longest sequence has 1,151 frames; longer inputs are read, with a warning
MAX_FILE_BYTES = 200 * 2**20  # a sequence file larger than this is refused (about 300,000 frames of text)


def regular_file(path: Path) -> None:
    """Refuse what is not a plain file of sane size (a FIFO would hang the reader, a device never end)."""
    import stat

    try:
        st = path.stat()
    except OSError as e:
        raise HandRNNError(f"{path}: cannot read ({e.strerror or e})") from None
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a directory"
            if stat.S_ISDIR(st.st_mode)
            else "a pipe"
            if stat.S_ISFIFO(st.st_mode)
            else "a device or socket"
        )
        raise HandRNNError(f"{path}: cannot read: {kind}, not a regular file")
    if st.st_size > MAX_FILE_BYTES:
        raise HandRNNError(
            f"{path}: {st.st_size / 2**20:.0f} MiB is too large for one hand sequence (limit {MAX_FILE_BYTES // 2**20} MiB)"
        )


def warn_long(path: Path, frames: int) -> None:
    if frames > MAX_FRAMES:
        log.warning(
            f"{path}: {frames} frames, far beyond FPHA's longest (1,151): training on it needs a lot of memory "
            "(crop it, or use predict --window)"
        )


def read_csv(path: Path, joints: int = NUM_JOINTS) -> np.ndarray:
    """Frames from a .csv file: one row per frame, 63 values (x, y, z of joint 0, then joint 1, ...) or a frame
    number and 63; a first row that is not numeric is a header."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [(n, r) for n, r in enumerate(csv.reader(f), start=1) if any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise HandRNNError(f"{path}: cannot read ({e.__class__.__name__}: {e})") from None
    if rows and not all(is_number(c) for c in rows[0][1]):
        rows = rows[1:]  # a header
    if not rows:
        raise HandRNNError(f"{path}: empty")
    frames, width = [], joints * NUM_COORDS
    for n, row in rows:
        if len(row) not in (width, width + 1):
            raise HandRNNError(f"{path}:{n}: expected {width} values (or a frame number and {width}), found {len(row)}")
        bad = next((c for c in row if not is_number(c)), None)
        if bad is not None:
            raise HandRNNError(f"{path}:{n}: not a number: {bad!r}")
        frames.append([float(c) for c in row[-width:]])
    return as_frames(np.array(frames), str(path), joints)


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# FPHA tree


def parse_skeleton(path: Path, joints: int = NUM_JOINTS) -> np.ndarray | None:
    """Parse one FPHA skeleton.txt into float32 [T, 63]; None for an empty file.

    Each line is ``t x1 y1 z1 ... x21 y21 z21``; frame numbers must increase by one.
    """
    regular_file(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise HandRNNError(f"{path}: cannot read ({e.__class__.__name__}: {e})") from None
    width = joints * NUM_COORDS
    numbers = _line_numbers(text)  # the non-blank lines, split once
    values = _parse_fast(text, len(numbers), width + 1)
    if values is not None:  # numbers only: parsed in numpy, without a list of tokens
        try:
            _check_values(path, values, numbers)
        except HandRNNError:
            values = None  # the line-by-line parser below names the fault exactly
        else:
            warn_long(path, len(values))
            return values[:, 1:].astype(np.float32)
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) != width + 1:
            raise HandRNNError(
                f"{path}:{n}: expected {width + 1} columns (frame number + {joints} joints x 3), found {len(tokens)}"
            )
        rows.append((n, tokens))
    if not rows:
        return None
    try:
        values = np.array([t for _, t in rows], dtype=np.float64)
    except ValueError:
        for n, tokens in rows:
            for token in tokens:
                try:
                    float(token)
                except ValueError:
                    raise HandRNNError(f"{path}:{n}: not a number: {token!r}") from None
        raise
    _check_values(path, values, [n for n, _ in rows])
    return values[:, 1:].astype(np.float32)


def _parse_fast(text: str, lines: int, columns: int) -> np.ndarray | None:
    """[lines, columns] float64 when the `lines` non-blank lines hold that many numbers each; None otherwise (or for an empty
    text), and the line-by-line parser then names the first bad line."""
    import warnings

    if lines == 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns (and stops) at the first token that is not a number
        try:
            values = np.fromstring(text, dtype=np.float64, sep=" ")
        except (ValueError, DeprecationWarning):
            return None
    if values.size != lines * columns:
        return None
    return values.reshape(lines, columns)  # a line with too few or many numbers breaks the frame numbers


def _line_numbers(text: str) -> list[int]:
    return [n for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _check_values(path: Path, values: np.ndarray, line_numbers: list[int]) -> None:
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        raise HandRNNError(f"{path}:{line_numbers[int(np.argmax(bad))]}: NaN or infinite value")
    huge = (np.abs(values[:, 1:]) > MAX_ABS_MM).any(axis=1)
    if huge.any():
        raise HandRNNError(
            f"{path}:{line_numbers[int(np.argmax(huge))]}: coordinate beyond {MAX_ABS_MM:g} mm, "
            "not a hand pose in millimetres"
        )
    frames = values[:, 0]
    if (frames != np.round(frames)).any() or (np.diff(frames) != 1).any():
        steps = np.flatnonzero((np.diff(frames) != 1) | (frames[1:] != np.round(frames[1:])))
        n = line_numbers[int(steps[0]) + 1] if len(steps) else line_numbers[0]
        raise HandRNNError(f"{path}:{n}: frame numbers must be whole and increase by one")


def read_split_file(path: Path) -> dict[str, tuple[int, int, int]]:
    """Read FPHA's split file: {sequence id: (split, label, line number)}."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise HandRNNError(f"{path}: cannot read ({e.__class__.__name__}: {e})") from None
    entries: dict[str, tuple[int, int, int]] = {}
    part, expected, counts = None, {}, {TRAIN: 0, TEST: 0}
    for n, line in enumerate(lines, start=1):
        tokens = line.split()
        if not tokens:
            continue
        header = re.fullmatch(r"(Training|Test)", tokens[0])
        if header and len(tokens) == 2 and tokens[1].isdigit():
            part = TRAIN if tokens[0] == "Training" else TEST
            expected[part] = int(tokens[1])
            continue
        if part is None:
            raise HandRNNError(f"{path}:{n}: entry before a 'Training N' or 'Test N' header")
        m = re.fullmatch(r"(Subject_\d+)/([A-Za-z0-9_]+)/(\d+)", tokens[0])
        if len(tokens) != 2 or not m or not re.fullmatch(r"\d+", tokens[1]):
            raise HandRNNError(f"{path}:{n}: expected '<Subject_s/action/rep> <label>', found {line.strip()!r}")
        if tokens[0] in entries:
            raise HandRNNError(f"{path}:{n}: {tokens[0]} is listed twice")
        entries[tokens[0]] = (part, int(tokens[1]), n)
        counts[part] += 1
    for p, want in expected.items():
        if counts[p] != want:
            raise HandRNNError(
                f"{path}: header promises {want} {'training' if p == TRAIN else 'test'} entries, found {counts[p]}"
            )
    if not entries:
        raise HandRNNError(f"{path}: no entries")
    return entries


def split_actions(path: Path, entries: dict[str, tuple[int, int, int]], known: set[str]) -> dict[str, int]:
    """{action name: official label}, from the split file's entries, in label order; every action must have a
    folder in the tree. A subset of FPHA may list only some labels: gaps are allowed."""
    names: dict[int, str] = {}
    for sid, (_, label, n) in entries.items():
        action = sid.split("/")[1]
        if action not in known:
            raise HandRNNError(f"{path}:{n}: unknown action {action!r}: the tree has no folder of that name")
        if names.setdefault(label, action) != action:
            raise HandRNNError(f"{path}:{n}: label {label} is {names[label]!r} elsewhere but {action!r} here")
    return {names[label]: label for label in sorted(names)}


def _skeleton_files(root: Path) -> list[Path]:
    pose = root / POSE_DIR
    if not pose.is_dir():
        if not root.exists():
            raise HandRNNError(f"{root}: no such directory (give the FPHA folder with --data or ${DATA_ENV})")
        raise HandRNNError(
            f"{root}: not an FPHA tree (no {POSE_DIR}/ folder inside) nor an own-data folder (no {LABELS_FILE})"
        )
    files = sorted(pose.glob(f"Subject_*/*/*/{SKELETON_FILE}"), key=_natural_key)
    if not files:
        raise HandRNNError(f"{pose}: no Subject_*/<action>/<rep>/{SKELETON_FILE} files")
    return files


def _natural_key(p: Path) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(p))]


def read_fpha(
    root: Path, *, on_bad: str = "error", use_cache: bool = True, cache_dir: Path | None = None
) -> HandActions:
    """Read an FPHA tree (Hand_pose_annotation_v1/Subject_s/<action>/<rep>/skeleton.txt + split file).

    on_bad: 'error' stops at the first malformed file; 'skip' leaves it out and reports it.
    cache_dir: where parsed trees are kept (default $HANDRNN_CACHE, else ~/.cache/handrnn). A cache file is
    used only when the key stored in it (every file's size, mtime and ctime) and its content hash check
    out; anything else, a damaged file included, is parsed again and rewritten.
    """
    root = Path(root).expanduser().resolve()
    files = _skeleton_files(root)
    split_path = root / SPLIT_FILE
    key = _cache_key(root, files, split_path, on_bad)
    cache = _cache_dir(cache_dir) / f"fpha-{key[:24]}.npz" if use_cache else None
    data = _read_cache(cache, key) if cache is not None and cache.exists() else None
    if data is None:
        data = _parse_tree(root, files, split_path, on_bad)
        if cache is not None:
            try:
                save_npz(
                    cache, data, extra={"cache_key": np.array(key), "content_sha256": np.array(_content_hash(data))}
                )
            except OSError as e:
                log.warning(f"could not write the parse cache {cache}: {e}")
    _report_skipped(data.skipped)
    return data


def _cache_dir(cache_dir: Path | None) -> Path:
    return Path(cache_dir or os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "handrnn")


def _read_cache(path: Path, key: str) -> HandActions | None:
    """The cached tree, or None when the file is not exactly the cache of this key (then it is rebuilt)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if "cache_key" not in z.files or str(z["cache_key"]) != key or "content_sha256" not in z.files:
                return None
            stored = str(z["content_sha256"])
        data = load_npz(path)
    except Exception:  # noqa: BLE001 - a truncated or foreign file is never trusted and never stops a load
        return None
    return data if _content_hash(data) == stored else None


def _content_hash(data: HandActions) -> str:
    h = hashlib.sha256()
    for part in (data.actions, data.ids, data.skipped):
        h.update("\x1f".join(part).encode() + b"\x1e")
    for array in (data.labels, data.subjects, data.split, *data.sequences):
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def _parse_tree(root: Path, files: list[Path], split_path: Path, on_bad: str) -> HandActions:
    folders = {f.parent.parent.name for f in files}
    if split_path.is_file():
        entries = read_split_file(split_path)
        official = split_actions(split_path, entries, folders)
        actions = list(official)  # labels 0..K-1 in the official order, also for a subset of the actions
    else:
        actions = sorted(folders)
        official, entries = {}, {}
        log.warning(f"{split_path} not found: actions are numbered alphabetically and there is no official split")
    label_of = {a: i for i, a in enumerate(actions)}
    seqs, labels, ids, subjects, split, skipped = [], [], [], [], [], []
    skipped_ids = set()
    for f in files:
        rep, action, subject = f.parent.name, f.parent.parent.name, f.parent.parent.parent.name
        sid = f"{subject}/{action}/{rep}"
        if action not in label_of:
            raise HandRNNError(f"{f}: action {action!r} is not one of the {len(actions)} actions in {split_path.name}")
        try:
            x = parse_skeleton(f)
        except HandRNNError as e:
            if on_bad != "skip":
                raise
            skipped.append(str(e))
            skipped_ids.add(sid)
            continue
        if x is None:
            skipped.append(f"{f}: empty")
            skipped_ids.add(sid)
            continue
        seqs.append(x)
        labels.append(label_of[action])
        ids.append(sid)
        number = subject.split("_", 1)[1]
        if not number.isdigit():
            raise HandRNNError(
                f"{f.parent.parent.parent}: subject folders are named Subject_<number>, found {subject!r}"
            )
        subjects.append(int(number))
        part = entries.get(sid, (UNSPLIT, None, 0))
        if part[1] is not None and part[1] != official[action]:
            raise HandRNNError(f"{split_path}: {sid} has label {part[1]} but its folder says {action!r}")
        split.append(part[0])
    found = set(ids) | skipped_ids
    missing = [sid for sid in entries if sid not in found]
    if missing:
        raise HandRNNError(f"{split_path}: {len(missing)} listed sequence(s) have no skeleton.txt, e.g. {missing[0]}")
    if not seqs:
        raise HandRNNError(f"{root}: no non-empty sequences")
    return HandActions.from_lists(seqs, labels, actions, ids, subjects, split, skipped)


def _report_skipped(skipped: list[str]) -> None:
    """One short warning line; the files are named at debug level and by `handrnn data summary`."""
    if skipped:
        empty = all(s.endswith(": empty") for s in skipped)
        what = "empty file(s)" if empty else "unreadable file(s)"
        log.warning(f"skipped {len(skipped)} {what} (handrnn data summary names them)")
        for s in skipped:
            log.debug(f"skipped {s}")


def _cache_key(root: Path, files: list[Path], split_path: Path, on_bad: str) -> str:
    """Every file's size, modification and change time (an edit that restores the mtime still changes the
    ctime), the reader's version and options."""
    h = hashlib.sha256(f"{CACHE_VERSION}|{root}|{on_bad}".encode())
    for f in [*files, split_path]:
        try:
            st = f.stat()
        except OSError:
            continue
        h.update(f"|{f.relative_to(root)}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}".encode())
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# Containers: the project's own .npz (no pickle) and the CW3 dict (x_train, x_test, y_train, y_test, actions)


def _ragged_to_arrays(seqs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(s) for s in seqs])
    values = np.concatenate(seqs).astype(np.float32) if seqs else np.zeros((0, NUM_FEATURES), np.float32)
    return values, offsets


def _arrays_to_ragged(values: np.ndarray, offsets: np.ndarray, where: str) -> list[np.ndarray]:
    if values.dtype.kind not in "fiu" or offsets.dtype.kind not in "iu":
        raise HandRNNError(
            f"{where}: values must be numbers and offsets integers, found {values.dtype} and {offsets.dtype}"
        )
    if values.ndim != 2 or values.shape[1] == 0 or values.shape[1] % NUM_COORDS:
        raise HandRNNError(
            f"{where}: values must be [frames, 3 x joints] (FPHA: {NUM_FEATURES}), found shape {values.shape}"
        )
    if (
        offsets.ndim != 1
        or len(offsets) == 0
        or offsets[0] != 0
        or offsets[-1] != len(values)
        or (np.diff(offsets) < 1).any()
    ):
        raise HandRNNError(f"{where}: offsets must rise from 0 to the number of frames, each sequence non-empty")
    return [values[a:b] for a, b in zip(offsets[:-1], offsets[1:])]


def save_npz(path: Path, data: HandActions, extra: dict[str, np.ndarray] | None = None) -> None:
    """Write a HandActions as a pickle-free .npz (ragged sequences as values + offsets), atomically;
    `extra` arrays are stored beside it."""
    values, offsets = _ragged_to_arrays(data.sequences)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(
        tmp,
        values=values,
        offsets=offsets,
        labels=data.labels,
        actions=np.array(data.actions),
        ids=np.array(data.ids),
        subjects=data.subjects,
        split=data.split,
        skipped=np.array(data.skipped, dtype=str),
        **(extra or {}),
    )
    os.replace(tmp, path)


def load_npz(path: Path) -> HandActions:
    """Read a .npz written by save_npz or a CW3 container saved as .npz (never unpickles)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as e:
        raise HandRNNError(f"{path}: not a readable pickle-free .npz ({e})") from None
    if "values" in arrays:
        for key in ("labels", "subjects", "split"):
            if key in arrays and arrays[key].dtype.kind not in "iu":
                raise HandRNNError(f"{path}: {key} must be integers, found {arrays[key].dtype}")
        need = ["values", "offsets", "labels", "actions", "ids", "subjects", "split"]
        _require(arrays, need, path)
        seqs = _arrays_to_ragged(arrays["values"], arrays["offsets"], str(path))
        data = HandActions(
            sequences=seqs,
            labels=arrays["labels"].astype(np.int64),
            actions=[str(a) for a in arrays["actions"]],
            ids=[str(i) for i in arrays["ids"]],
            subjects=arrays["subjects"].astype(np.int64),
            split=arrays["split"].astype(np.int8),
            skipped=[str(s) for s in arrays.get("skipped", [])],
        )
        _validate(data, str(path))
        return data
    _require(
        arrays,
        ["x_train_values", "x_train_offsets", "x_test_values", "x_test_offsets", "y_train", "y_test", "actions"],
        path,
    )
    cw3 = {
        "x_train": _arrays_to_ragged(arrays["x_train_values"], arrays["x_train_offsets"], f"{path}: x_train"),
        "x_test": _arrays_to_ragged(arrays["x_test_values"], arrays["x_test_offsets"], f"{path}: x_test"),
        "y_train": arrays["y_train"],
        "y_test": arrays["y_test"],
        "actions": list(arrays["actions"]),
    }
    return from_cw3_dict(cw3, str(path))


def _require(arrays: dict, keys: list[str], path: Path) -> None:
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise HandRNNError(f"{path}: missing array(s) {', '.join(missing)}")


def _validate(data: HandActions, where: str) -> None:
    n = len(data.sequences)
    if data.labels.dtype.kind not in "iu":
        raise HandRNNError(f"{where}: labels must be integers, found {data.labels.dtype}")
    for name in ("labels", "subjects", "split"):
        if len(getattr(data, name)) != n:
            raise HandRNNError(f"{where}: {name} has {len(getattr(data, name))} entries for {n} sequences")
    if n and (data.labels.min() < 0 or data.labels.max() >= len(data.actions)):
        raise HandRNNError(f"{where}: labels must be in 0..{len(data.actions) - 1}")
    for i, s in enumerate(data.sequences):
        if not np.isfinite(s).all():
            raise HandRNNError(f"{where}: sequence {i} ({data.ids[i]}) holds NaN or infinite values")


def from_cw3_dict(d: dict, where: str) -> HandActions:
    """Turn a CW3 dict (x_train/x_test: sequences of [T, 63]; y_*: labels 1..45; actions) into HandActions."""
    if not isinstance(d, dict):
        raise HandRNNError(f"{where}: expected a dict with x_train, x_test, y_train, y_test, actions")
    _require(d, ["x_train", "x_test", "y_train", "y_test", "actions"], Path(where))
    actions = [str(a) for a in d["actions"]]
    seqs, labels, ids, split = [], [], [], []
    for part, code in (("train", TRAIN), ("test", TEST)):
        xs, ys = d[f"x_{part}"], np.asarray(d[f"y_{part}"]).reshape(-1)
        if ys.dtype.kind not in "iuf":
            raise HandRNNError(f"{where}: y_{part} must hold numbers, found {ys.dtype}")
        if len(xs) != len(ys):
            raise HandRNNError(f"{where}: x_{part} has {len(xs)} sequences but y_{part} has {len(ys)} labels")
        for i, (x, y) in enumerate(zip(xs, ys)):
            x = as_frames(x, f"{where}: x_{part}[{i}]")
            if not np.isfinite(y) or float(y) != int(y) or not 1 <= int(y) <= len(actions):
                raise HandRNNError(f"{where}: y_{part}[{i}] = {y} is not a label in 1..{len(actions)}")
            seqs.append(x)
            labels.append(int(y) - 1)
            ids.append(f"{part}/{i}")
            split.append(code)
    data = HandActions(
        sequences=seqs,
        labels=np.array(labels, dtype=np.int64),
        actions=actions,
        ids=ids,
        subjects=np.zeros(len(seqs), dtype=np.int64),
        split=np.array(split, dtype=np.int8),
    )
    _validate(data, where)
    return data


def to_cw3_dict(data: HandActions, train: np.ndarray, test: np.ndarray) -> dict:
    """The CW3 container for the given train/test indices (labels shifted to 1..45)."""
    return {
        "x_train": [data.sequences[i] for i in train],
        "x_test": [data.sequences[i] for i in test],
        "y_train": data.labels[train] + 1,
        "y_test": data.labels[test] + 1,
        "actions": list(data.actions),
    }


def write_cw3(path: Path, d: dict) -> None:
    """Write a CW3 container: .npz (safe, ragged as values + offsets) or .pkl (the course's pickled dict)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".pkl":
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            pickle.dump(
                {**d, "x_train": np.array(d["x_train"], dtype=object), "x_test": np.array(d["x_test"], dtype=object)}, f
            )
        os.replace(tmp, path)
        return
    if path.suffix != ".npz":
        raise HandRNNError(f"{path}: the container must end in .npz (safe) or .pkl (pickle)")
    xv, xo = _ragged_to_arrays(d["x_train"])
    tv, to = _ragged_to_arrays(d["x_test"])
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(
        tmp,
        x_train_values=xv,
        x_train_offsets=xo,
        x_test_values=tv,
        x_test_offsets=to,
        y_train=np.asarray(d["y_train"]),
        y_test=np.asarray(d["y_test"]),
        actions=np.array(d["actions"]),
    )
    os.replace(tmp, path)


def load_pickle(path: Path) -> HandActions:
    """Read a pickled CW3 dict. Unpickling runs code from the file: callers ask the user first."""
    try:
        with open(path, "rb") as f:
            d = pickle.load(f, encoding="latin1")
    except Exception as e:  # noqa: BLE001 - any failure of an untrusted pickle is the file's fault
        raise HandRNNError(f"{path}: cannot unpickle ({e.__class__.__name__}: {e})") from None
    return from_cw3_dict(d, str(path))


def read_folder(root: Path, on_bad: str = "error") -> HandActions:
    """An own-data folder: one sequence per file (.npy, .csv or skeleton.txt-style text; 21 joints in FPHA's
    order, millimetres) and labels.csv with the columns file (relative to the folder) and label (an action
    name), and optionally subject (a person: any name or number) and split (train or test)."""
    import csv

    table = root / LABELS_FILE
    joints = read_layout(root)
    try:
        with open(table, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = [c.strip().lower() for c in reader.fieldnames or []]
            rows = [
                (n, {k.strip().lower(): (v or "").strip() for k, v in r.items() if k})
                for n, r in enumerate(reader, start=2)
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise HandRNNError(f"{table}: cannot read ({e.__class__.__name__}: {e})") from None
    missing = [c for c in ("file", "label") if c not in columns]
    if missing:
        raise HandRNNError(f"{table}: needs the columns file and label (found: {', '.join(columns) or 'none'})")
    rows = [(n, r) for n, r in rows if any(r.values())]
    if not rows:
        raise HandRNNError(f"{table}: no sequences listed")
    actions = sorted({r["label"] for _, r in rows if r["label"]})
    people = sorted({r.get("subject", "") for _, r in rows} - {""}, key=_natural_text)
    seqs, labels, ids, subjects, split, skipped = [], [], [], [], [], []
    for n, r in rows:
        where = f"{table}:{n}"
        if not r["file"] or not r["label"]:
            raise HandRNNError(f"{where}: every row needs a file and a label")
        part = r.get("split", "").lower()
        if part not in ("", "train", "test"):
            raise HandRNNError(f"{where}: split must be train or test (or empty), found {r['split']!r}")
        path = root / r["file"]
        try:
            x = read_sequence(path, joints)
        except HandRNNError as e:
            if on_bad != "skip":
                raise HandRNNError(f"{where}: {e}") from None
            skipped.append(str(e))
            continue
        seqs.append(x)
        labels.append(actions.index(r["label"]))
        ids.append(r["file"])
        subjects.append(people.index(r["subject"]) + 1 if r.get("subject") else 0)
        split.append({"train": TRAIN, "test": TEST, "": UNSPLIT}[part])
    if len(set(ids)) != len(ids):
        raise HandRNNError(f"{table}: a file is listed twice")
    if not seqs:
        raise HandRNNError(f"{root}: no readable sequences")
    _report_skipped(skipped)
    return HandActions.from_lists(seqs, labels, actions, ids, subjects, split, skipped)


LAYOUT_FILE = "layout.json"  # an own-data folder's joint layout: {"joints": N}; absent = FPHA's 21 joints


def read_layout(root: Path) -> int:
    """The joints per frame an own-data folder declares in layout.json (FPHA's 21 when there is none)."""
    path = root / LAYOUT_FILE
    if not path.exists():
        return NUM_JOINTS
    try:
        layout = json.loads(path.read_text(encoding="utf-8"))
        joints = layout["joints"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise HandRNNError(f'{path}: expected {{"joints": N}} ({e.__class__.__name__}: {e})') from None
    if not isinstance(joints, int) or isinstance(joints, bool) or not 1 <= joints <= 1000:
        raise HandRNNError(f"{path}: joints must be a whole number from 1 to 1000, found {joints!r}")
    return joints


def _natural_text(text: str) -> list:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


def load_data(path: str | Path | None, *, allow_pickle: bool = False, on_bad: str = "error") -> HandActions:
    """Load an FPHA tree, an own-data folder (labels.csv), a .npz container or (only with allow_pickle) a
    pickled CW3 dict."""
    if not path:
        path = os.environ.get(DATA_ENV)
        if not path:
            raise HandRNNError(f"no data given: pass --data PATH or set ${DATA_ENV}")
    path = Path(path).expanduser()
    if path.is_dir():
        if (path / LABELS_FILE).is_file():
            return read_folder(path, on_bad=on_bad)
        return read_fpha(path, on_bad=on_bad)
    if not path.exists():
        raise HandRNNError(f"{path}: no such file or directory")
    if path.suffix == ".npz":
        return load_npz(path)
    if path.suffix in (".pkl", ".pickle", ".p"):
        if not allow_pickle:
            raise HandRNNError(
                f"{path}: is a pickle; unpickling can run arbitrary code, so it is read only with --allow-pickle "
                "(or convert it once to .npz with 'handrnn data convert')"
            )
        return load_pickle(path)
    raise HandRNNError(
        f"{path}: unknown data format (expected an FPHA folder, a folder with labels.csv, .npz, or .pkl)"
    )
