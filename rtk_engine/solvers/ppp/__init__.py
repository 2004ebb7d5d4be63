"""Precise point positioning: ionosphere-free float PPP (GPS, Galileo, BeiDou), static and kinematic.

``solve(obs, sp3, clk, atx, options) -> Solution`` (batch), :class:`PppOptions`, and the product
manager :func:`find_products`. See docs/ppp.md.
"""
from .batch import PppResult, solve, solve_detailed
from .options import PppOptions
from .inputs import PppDiagnostics, PppInputs, prepare

__all__ = ["PppOptions", "PppResult", "PppDiagnostics", "PppInputs", "prepare", "solve", "solve_detailed"]
