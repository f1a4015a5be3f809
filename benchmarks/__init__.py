"""Plain-PyMC baselines of the zoo's models and the scripts that time them (``zoo bench``).
Installed as ``zoo.benchmarks`` (pyproject's package-dir), so the bench runs from a wheel."""
