"""One module per export target. No GL imports here (the GLSL text comes from viewer.shaders)."""
