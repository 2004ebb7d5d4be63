"""What the running service knows beyond the database: the caster and the stations' live quality.

The API reads it through ``request.app.state.live``. Without a running caster (tests, API-only runs)
it is empty but valid, so every endpoint still answers.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cors_network.quality import QualitySnapshot


@dataclass
class LiveState:
    caster: Any = None  # ntrip_caster.server.Caster when running
    ingests: dict[str, Any] = field(default_factory=dict)  # station code -> cors_network.ingest.StationIngest
    relays: dict[str, Any] = field(default_factory=dict)  # station code -> cors_network.relay.StationRelay (pulled)

    def caster_snapshot(self, with_clients: bool = True) -> dict:
        if self.caster is None:
            return {"running": False, "rovers": 0, "sources": 0, "mounts": {}, "clients": [], "events": []}
        return {"running": True, **self.caster.snapshot(with_clients=with_clients)}

    def station_quality(self, code: str) -> QualitySnapshot | None:
        ing = self.ingests.get(code)
        return None if ing is None else ing.quality.snapshot()

    def station_quality_dict(self, code: str) -> dict | None:
        q = self.station_quality(code)
        return None if q is None else asdict(q)
