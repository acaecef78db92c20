"""Public data sets, downloaded once and hash-checked: TBM grain boundaries, ISBI 2012, Drosophila ssTEM,
PASCAL VOC 2012 (through torchvision)."""
