"""GL rendering with moderngl: the headless renderer, the glfw live viewer and the GLSL sources.

`viewer.shaders` is GL-free (it only assembles `.glsl` text) so exporters may import it.
"""
