"""Poisson blending: the linear system, its solvers (multigrid-preconditioned CG and plain CG) and
the multigrid hierarchy shared with the GLSL solver."""
