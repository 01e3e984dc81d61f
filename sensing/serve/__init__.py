"""Tile server and web viewer over the published catalog."""
