"""Diffusion presets on images: the preset JSON files, the controller and the torch engine (its
Perona-Malik step runs the fused C kernel `_diffusion_kernel.c` on CPU)."""
