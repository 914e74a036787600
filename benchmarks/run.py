"""Run the national-scale benchmark: the same as ``aanwas bench`` (see benchmarks/README.md).

python benchmarks/run.py --scale 0.1 --seed 1 --out /tmp/bench
"""

import sys

from aanwas.cli import app

if __name__ == "__main__":
    app(["bench", *sys.argv[1:]])
