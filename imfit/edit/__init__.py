"""Edits: pure functions on a GaborSet (`imfit.edit.ops`, re-exported here), the op text syntax,
animation, morphing and contact sheets."""

from imfit.edit.ops import *  # noqa: F401,F403
