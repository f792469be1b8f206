"""Re-derive the committed match model ``ehr/mpi/settings/<version>.model.json`` offline.

The training set is regenerated from a fixed seed: Synthea-style patients copied into three
hospitals with corruption (``bench/mpi_synthea.py``). Training reads the records only, never the
truth (Splink: prior from deterministic rules, u by random sampling, m by EM).

    python scripts/train_mpi.py [--version v1] [--people 6000] [--seed 20261201]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.mpi_synthea import population
from ehr.mpi.columns import comparison_row
from ehr.mpi.model import model_path, save_model
from ehr.mpi.rules import load_settings
from ehr.mpi.training import train_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default="v1")
    parser.add_argument("--people", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args()
    settings = load_settings(args.version)
    data = population(args.people, args.seed)
    started = time.perf_counter()
    rows = [comparison_row(key, record) for key, record in data.records.items()]
    model = train_model(rows, settings, trained_on=(
        f"bench/mpi_synthea.py population(people={args.people}, seed={args.seed}): {len(rows)} records "
        "in 3 hospitals, unsupervised (no labels read)"))
    save_model(model, model_path(args.version))
    print(f"trained {args.version} on {len(rows)} records in {time.perf_counter() - started:.1f} s "
          f"-> {model_path(args.version)}")


if __name__ == "__main__":
    main()
