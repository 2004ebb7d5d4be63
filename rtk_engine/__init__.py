"""rtk_engine: the GNSS library (formats, orbits, models, SPP/RTK/PPP solvers).

Pure functions and small classes, arrays in and arrays out; no network, no global state.
Depends on numpy and scipy only (pyproj is used lazily for projections at the edges).
"""
__version__ = "0.1.0"
