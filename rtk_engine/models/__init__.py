"""Propagation and geometry models: troposphere, ionosphere, satellite-receiver geometry.

All functions are vectorised over broadcastable arrays (typically ``[E, S]``); metres, seconds,
radians, ECEF.
"""
