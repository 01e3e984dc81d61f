"""W1 contender (d), ours through the library: what the ``reprocess`` flow runs, without Prefect.

Usage: python bench/w1/sensing_library.py --config CONFIG.yaml --aoi ID --start YYYY-MM-DD --end YYYY-MM-DD
       [--products water,ndwi,mndwi,ndvi]

The same library calls as the flow's tasks, in order: search the source, process every scene on
the run's Dask cluster (as many scenes at once as the flow runs) (classification, the products' COGs, water-body areas, vectors, STAC items;
``force``, so a rerun does the work again), then publish the run (tables, collections, tile index).
"""

from __future__ import annotations

import argparse
import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sensing import workflow
from sensing.cluster import dask_client
from sensing.registry import load_water_bodies
from sensing.selection import select
from sensing.sources import open_source


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--aoi", required=True)
    parser.add_argument("--start", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--end", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--products", default="water,ndwi,mndwi,ndvi")
    args = parser.parse_args()
    settings = select(args.config, args.aoi, products=args.products.split(","))
    bodies = load_water_bodies(settings.water_bodies, settings.hydrography)
    with dask_client(settings.dask):
        source = open_source(settings.source, settings.data_dir)
        scenes = workflow.scenes_for_period(settings, source, args.start, args.end)
        # As the flow: SCENE_CONCURRENCY scenes in flight, their pixel work shared on the Dask cluster.
        with ThreadPoolExecutor(max_workers=workflow.SCENE_CONCURRENCY) as pool:
            results = list(
                pool.map(
                    lambda scene: workflow.process_scene(settings, source, scene, bodies, force=True), scenes
                )
            )
        workflow.publish_run(settings, results)
    for result in results:
        print(result.scene_id, result.status, result.reason or "")


if __name__ == "__main__":
    main()
