"""``zoo bench``: the zoo timed against plain-PyMC baselines, and how its cost grows."""
