"""Data: deterministic synthetic generators and loaders for the public datasets."""

from .synthetic import synthetic_shapes

__all__ = ["synthetic_shapes"]
