"""Notebook 05 (Deep Contextual Network): branch maps, their contrast, Table 1 and the contrast-guided search."""
