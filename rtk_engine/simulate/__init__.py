"""GNSS observation simulator driven by real broadcast ephemerides (see docs/simulator.md).

    from rtk_engine.simulate import simulate_network, SimConfig, network_around
    stations = network_around(29.56, 106.55, 300.0, {"BASE": (0, 0), "R05": (5.0, 60.0)})
    sims = simulate_network(nav, stations, start_gpst_ns, 600, 1.0, SimConfig(systems="C"), seed=1)
    block, truth = sims["R05"]
"""
from .network import CHONGQING_LLH_DEG, network_around, ring_network, write_network_rinex
from .observations import (SimulationError, StationResult, StationSim, iter_network, simulate_network,
                           simulate_network_detailed, simulate_station)
from .scenario import DEFAULT_SIGNALS, ErrorModel, SimConfig, satellite_transmits

__all__ = ["CHONGQING_LLH_DEG", "DEFAULT_SIGNALS", "ErrorModel", "SimConfig", "SimulationError", "StationResult",
           "StationSim", "iter_network", "network_around", "ring_network", "satellite_transmits", "simulate_network",
           "simulate_network_detailed", "simulate_station", "write_network_rinex"]
