"""Physical and system constants. SI units: metres, seconds, radians, Hz."""
from __future__ import annotations

CLIGHT = 299_792_458.0  # speed of light in vacuum [m/s]

# Ellipsoids: semi-major axis [m] and flattening
WGS84_A = 6_378_137.0
WGS84_F = 1.0 / 298.257223563
CGCS2000_A = 6_378_137.0
CGCS2000_F = 1.0 / 298.257222101

# Earth gravitational constant GM [m^3/s^2] and rotation rate [rad/s] as each ICD uses them
GM = {"G": 3.986005e14, "J": 3.986005e14, "E": 3.986004418e14, "C": 3.986004418e14,
      "R": 3.9860044e14, "I": 3.986005e14, "S": 3.986005e14}
OMEGA_E = {"G": 7.2921151467e-5, "J": 7.2921151467e-5, "E": 7.2921151467e-5,
           "C": 7.292115e-5, "R": 7.292115e-5, "I": 7.2921151467e-5, "S": 7.2921151467e-5}
OMEGA_E_DEFAULT = 7.2921151467e-5  # [rad/s], used for the Sagnac/Earth-rotation correction

# Relativistic clock correction constant F = -2 sqrt(GM) / c^2 [s/m^0.5] (GPS ICD value)
REL_F = -4.442807633e-10

# GLONASS PZ-90 constants for numerical integration
GLO_A_E = 6_378_136.0  # [m]
GLO_J2 = 1.0826257e-3
GLO_GM = 3.9860044e14
GLO_OMEGA = 7.292115e-5
