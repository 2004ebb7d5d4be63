"""Command-line front ends of the GNSS library (``beidou spp``, ``beidou rtk``, ``beidou ppp``)."""
