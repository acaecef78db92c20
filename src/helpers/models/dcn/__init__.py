"""Deep Contextual Network (Chen et al., AAAI 2016) with a deconvolution kernel per branch (PyTorch).

Its loss (fused map plus decaying auxiliary losses) lives with the other losses: :mod:`helpers.losses.dcn`.
"""

from helpers.models.dcn.model import DCN, PAPER_KERNELS, STRIDES, dcn, deconv_padding

__all__ = ["DCN", "PAPER_KERNELS", "STRIDES", "dcn", "deconv_padding"]
