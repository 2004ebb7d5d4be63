"""Coordinate frames: ECEF, geodetic, ENU, and (at the edges) CGCS2000 projections."""
