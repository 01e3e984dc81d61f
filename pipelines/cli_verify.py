"""``sensing verify``: check everything published under a data folder."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

import typer

from pipelines.cli_options import DEFAULT_CONFIG, ConfigOpt, console, settings_or_exit

__all__ = ["verify"]


def verify(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Validate every STAC document and COG of the catalogue, check each asset's size and checksum
    against its item, and report layer files no item accounts for; exit 1 on any finding."""
    from sensing.publish.layout import OutputLayout
    from sensing.publish.locks import file_lock
    from sensing.publish.verify import verify_outputs

    settings = settings_or_exit(config)
    layout = OutputLayout(settings.output_dir)
    with file_lock(layout.lock):  # a consistent view: no run is publishing meanwhile
        report = verify_outputs(layout.root)
    if as_json:
        print(json.dumps(dataclasses.asdict(report), indent=2))
    else:
        console.print(
            f"{report.documents} STAC documents, {report.assets} assets, {report.cogs} COGs checked; "
            f"{report.superseded} superseded layer versions kept; {len(report.findings)} finding(s)"
        )
        for finding in report.findings:
            console.print(f"  [red]{finding.kind}[/red] {finding.path}: {finding.detail}")
    if report.findings:
        raise typer.Exit(1)
