"""FastAPI operator service: stations, mountpoints, users, monitoring points, jobs, dashboard.
Not built yet."""
