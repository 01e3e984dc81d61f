"""The embedded demo: a deterministic, simulated Sentinel-2 L2A archive with known truth."""
