"""Maintainer tools: running the notebooks, committing their outputs, the book's generated pages."""
