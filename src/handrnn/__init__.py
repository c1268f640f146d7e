"""handrnn: hand action recognition from 3D hand-skeleton sequences with recurrent networks.

    import handrnn
    clf = handrnn.load("runs/my-run")           # a trained run folder
    clf(sequence)                               # [T, 63] or [T, 21, 3] in mm -> [[(action, probability), ...]]
    handrnn.train(data="path/to/fpha", protocol="1:1", epochs=10)  # as `handrnn train`, returns results

Importing handrnn loads nothing heavy: each name below is imported when first used.
"""

__version__ = "0.1.0"

_EXPORTS = {
    "load": "api",
    "train": "api",
    "Classifier": "api",
    "Config": "config",
    "make_config": "config",
    "load_data": "datasets",
    "read_fpha": "datasets",
    "HandActions": "datasets",
    "protocol_splits": "data",
    "HandRNNError": "errors",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'handrnn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
