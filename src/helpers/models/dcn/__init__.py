"""Deep Contextual Network (Chen et al., AAAI 2016) with a deconvolution kernel per branch (PyTorch)."""

from .model import (DCN, DCNLoss, PAPER_KERNELS, STRIDES, aux_weight_schedule, dcn, dcn_loss,
                    deconv_padding)

__all__ = ["DCN", "DCNLoss", "PAPER_KERNELS", "STRIDES", "aux_weight_schedule", "dcn", "dcn_loss",
           "deconv_padding"]
