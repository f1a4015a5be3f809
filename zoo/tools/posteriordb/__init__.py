"""posteriordb both ways: check zoo models against posteriordb's reference posteriors
(:mod:`zoo.tools.posteriordb.verify`) and write zoo models as posteriordb entries with exact
reference draws (:mod:`zoo.tools.posteriordb.export`).

posteriordb (stan-dev/posteriordb, BSD-3) is a folder ``posterior_database/`` of JSON files:
``posteriors/NAME.json`` names a model and a data set, ``models/info`` and ``data/info`` describe
them, data are zipped JSON, and a reference posterior is 10 chains x 1000 draws, zipped JSON,
one object per chain keyed by Stan's 1-based names (``theta[1]``), with an info file of
diagnostics and the checks its definition asks for (:mod:`zoo.tools.posteriordb.layout`).
"""
