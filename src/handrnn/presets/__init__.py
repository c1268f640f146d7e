"""Shipped configs: `handrnn train --preset NAME` reads NAME.yaml from this folder."""
