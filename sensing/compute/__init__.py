"""Pure, lazy computations: xarray (Dask-backed) in, xarray out. No files, sockets or GDAL here."""
