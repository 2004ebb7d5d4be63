"""Monitoring points (power-grid towers, landslide slopes): displacement series, alarm rules,
reference-station stability, displacement injection for tests and demonstrations.

Modules: :mod:`.rules` (alarm rules, persistence, alarm life cycle), :mod:`.displacement`
(ENU mm, robust filter, session averages), :mod:`.stability` (CUSUM), :mod:`.inject`
(displacement injection into real observations), :mod:`.point` (a live point: streaming RTK
against its reference station, filter, rules).
"""
