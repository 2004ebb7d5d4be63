"""RTK / PPK engine: double-differenced Kalman filter with LAMBDA ambiguity resolution.

Entry points: :func:`solve` (files, forward/backward/combined) and :class:`RtkStream`
(real time, one epoch per ``step``); both run :class:`RtkFilter.step`. Options: :class:`RtkOptions`,
:func:`load_options` (TOML, documented defaults in ``rtk_defaults.toml``).
"""
from .batch import RtkReport, combine, solve
from .filter import RtkFilter
from .options import RtkOptions, RtkOptionsError, load_options
from .prepare import RtkInputError, prepare
from .stream import RtkStream

__all__ = ["solve", "combine", "RtkReport", "RtkFilter", "RtkOptions", "RtkOptionsError", "load_options",
           "RtkInputError", "prepare", "RtkStream"]
