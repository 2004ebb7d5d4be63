"""Position solvers: single-point (``spp``), RTK/PPK and PPP. Each has a batch ``solve(obs, nav,
options) -> Solution`` and a streaming object with ``step(epoch) -> Solution``."""
