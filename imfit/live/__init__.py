"""Live control of the viewer: the one parameter table (`params`), OSC, MIDI and audio analysis.

GL-free and light: python-osc, mido and sounddevice are imported only by what uses them.
"""
