"""Notebook 04 (few-shot segmentation with the pixel-relation loss): the protocol that trains one
few-shot run in a worker process, and the study's summaries and plots."""
