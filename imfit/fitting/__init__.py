"""Fitting a photo with wavelets: settings, initialisation, losses, the fitter, and the runner
of torch-imfit's modes (image, folder, video, vm)."""
