"""handrnn: hand action recognition from 3D hand-skeleton sequences with recurrent networks."""

__version__ = "0.1.0"
