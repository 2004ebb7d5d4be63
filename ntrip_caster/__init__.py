"""NTRIP v1/v2 caster (asyncio): sources upload RTCM3, rovers receive it; sourcetable, accounts,
nearest-base selection from the rover's GGA. Imports only ``rtk_engine.formats`` below it."""
