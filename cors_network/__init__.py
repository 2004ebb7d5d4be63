"""Reference-station network: station registry, stream ingest, quality monitoring, RINEX archive,
coordinate integrity, network RTK. Not built yet."""
