"""Generated stand-ins for each paper's data (offline, seeded, vectorised): scenes and leaves (VOC and
leaf disease), SEM grain boundaries, EM membranes and organelles, rubber-filler slices."""
