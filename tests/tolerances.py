"""The one tolerance table for tests, each with the reason for its size."""

# Dense vs tiled torch renderer on a real fit: the tiled one cuts windows at 4.5 sigma where the
# window is 4e-5; a few overlapping cut tails stay far below 1e-3 (the spec's bound).
TILED_VS_DENSE = 1e-3
# Bit-exact float32 round trips (JSON, TSV, coll): zero, compared with array_equal.
# torch-imfit .txt conversion goes through float64 trig/log and 9 significant digits.
TXT_ROUNDTRIP = 1e-5
# GL full-screen loop vs torch: float32 on both sides, different transcendental implementations
# (llvmpipe vs libm): 1e-3 per pixel as the spec asks.
GL_LOOP_VS_TORCH = 1e-3
# GL billboards vs torch: quads sized at the same radius; 2/255 as the spec asks.
GL_BILLBOARD_VS_TORCH = 2 / 255
# Classic Perona-Malik (torch, float32) vs the plain float64 numpy 4-neighbour twin after 10
# steps: float32 rounding of ~40 ops per pixel, measured ~6e-7; the issue asks 1e-5.
PM_VS_NUMPY = 1e-5
# Torch vs GLSL diffusion, float32 targets on both sides, different exp() implementations
# (llvmpipe vs Sleef): measured 6e-6 after 50 Perona-Malik steps; the issue asks 1e-3.
DIFFUSION_GL_VS_TORCH = 1e-3
# Learned-kernel torch engine (analytic gradient, banded) vs autograd + torch.optim.SGD twin:
# same float32 maths in another order. K agrees to ~3e-6 after 20 steps, the image to ~3e-4:
# where |G| > kappa/sqrt(2) the reaction runs backwards (anti-diffusion) and amplifies rounding.
LEARNED_VS_AUTOGRAD = 1e-3
# Poisson: CG to relative residual 1e-10 vs a dense float64 solve: far below one grey level.
POISSON_VS_DENSE = 1e-6
# Poisson GL red-black SOR (float32, residual 1e-5) vs torch CG: under half a grey level.
POISSON_GL_VS_TORCH = 0.5 / 255
