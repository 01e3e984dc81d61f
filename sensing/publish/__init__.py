"""Write side: atomic storage, COGs, the STAC catalog of outputs and the tables."""
