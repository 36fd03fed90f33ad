"""Pixels from a GaborSet in torch: the dense reference, the tiled path with its analytic
backward, and the fused C kernel (`_gabor_kernel.c`) that the tiled path is the twin of."""
