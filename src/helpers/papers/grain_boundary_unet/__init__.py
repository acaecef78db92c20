"""Notebook 01 (residual U-Net for grain boundaries): Keras training and Optuna tuning of Momentum SGD,
and the paper's measurements (boundary length, carbide ratio, topology)."""
