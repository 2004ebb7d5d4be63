"""Precise point positioning: ionosphere-free float PPP (GPS, Galileo, BeiDou), static and kinematic.

``solve(obs, sp3, clk, atx, options) -> Solution`` (batch), :class:`PppStream` (``step(epoch)``),
:class:`PppOptions`, and the product manager :func:`rtk_engine.solvers.ppp.products.find_products`. See docs/ppp.md.
"""
from .batch import PppResult, solve, solve_detailed
from .options import PppOptions
from .stream import PppStream
from .inputs import PppDiagnostics, PppInputs, prepare

__all__ = ["PppOptions", "PppStream", "PppResult", "PppDiagnostics", "PppInputs", "prepare", "solve", "solve_detailed"]
