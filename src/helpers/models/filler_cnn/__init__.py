"""The C4Fk classification CNN of the rubber-filler paper (Keras 3)."""

from helpers.models.filler_cnn.model import fc_widths, filler_cnn

__all__ = ["fc_widths", "filler_cnn"]
