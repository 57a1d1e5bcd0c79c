"""Copy the stabilization lab's figures into the book (chapters 11 and 12).

    python chapters/figures/make_lab_figures.py                     # every shipped experiment, in runs/lab/
    python chapters/figures/make_lab_figures.py runs/lab/ttur DIR2  # only these lab output directories

For each lab output directory (what ``python -m minigan lab EXPERIMENT --out DIR``
wrote; the experiment's name is the directory's), it copies

    DIR/samples.png -> chapters/figures/lab-<experiment>-samples.png
    DIR/curves.png  -> chapters/figures/lab-<experiment>-curves.png

for those that exist, and says which are missing. The lab draws both pictures
itself (``minigan.lab.report``): samples.png from each configuration's seed-0 run,
curves.png only when the experiment evaluates during training or names step
``curves``. The tables go the same way by hand: results.md to
benchmarks/results/lab-<experiment>.md, then ``python chapters/book.py sync``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing minigan

PICTURES = ("samples", "curves")


def copy_lab_figures(directory: Path, figures: Path = HERE) -> tuple[list[str], list[str]]:
    """(the figures written, the pictures missing) for one lab output directory."""
    written, missing = [], []
    for picture in PICTURES:
        source = directory / f"{picture}.png"
        if source.is_file():
            target = figures / f"lab-{directory.name}-{picture}.png"
            shutil.copyfile(source, target)
            written.append(target.name)
        else:
            missing.append(str(source))
    return written, missing


def main(argv) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    if argv:
        directories = [Path(a) for a in argv]
    else:
        from minigan.lab import experiments

        directories = [ROOT / "runs" / "lab" / name for name in experiments()]
    written, missing = [], []
    for directory in directories:
        if not directory.is_dir():
            missing.append(f"{directory} (no such directory: run python -m minigan lab {directory.name})")
            continue
        done, absent = copy_lab_figures(directory)
        written += done
        missing += absent
    if written:
        print("wrote", ", ".join(written), "in", HERE)
    for item in missing:
        print("missing:", item)
    return 0 if written else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
