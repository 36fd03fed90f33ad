"""The model: `GaborSet`, one (N, 12) float32 array of wavelets in physical units."""

from imfit.model.gaborset import COL, COLUMNS, NCOL, GaborSet

__all__ = ["COL", "COLUMNS", "NCOL", "GaborSet"]
