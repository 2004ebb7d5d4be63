"""Satellite orbits and clocks: broadcast ephemerides (Kepler, BeiDou GEO, GLONASS integration),
ephemeris selection, and (elsewhere in this package) precise SP3/CLK products."""
