"""The ``zoo`` command's entry (and ``python -m zoo``): a Ctrl-C while the command's modules
load, before :func:`zoo.cli.main` can catch it, is one line and exit 130 too."""

import gc
import sys


def main() -> int:
    try:
        from zoo.cli import main as run
    except KeyboardInterrupt:
        print("zoo: interrupted; nothing was written", file=sys.stderr)
        return 130
    status = run()
    # The command is done and its process ends: Python's shutdown would first collect garbage
    # over every object PyMC, PyTensor and numba made (some 340,000 after a fit, 1 CPU-s and
    # 2-4 s of wall on a loaded machine), memory the system frees anyway. Frozen objects are
    # left out. Only here, never in zoo.cli.main or the API: a notebook's session goes on.
    gc.freeze()
    return status


if __name__ == "__main__":
    sys.exit(main())
