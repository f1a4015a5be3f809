"""The ``zoo`` command's entry (and ``python -m zoo``): a Ctrl-C while the command's modules
load, before :func:`zoo.cli.main` can catch it, is one line and exit 130 too."""

import sys


def main() -> int:
    try:
        from zoo.core.workers import lean_collector

        lean_collector()  # only here and in the workers: the API's session is the user's
        from zoo.cli import main as run
    except KeyboardInterrupt:
        print("zoo: interrupted; nothing was written", file=sys.stderr)
        return 130
    return run()


if __name__ == "__main__":
    sys.exit(main())
