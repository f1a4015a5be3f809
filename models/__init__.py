"""The zoo's models, one module each; each defines ``MODEL``, a :class:`zoo.core.model.ZooModel`."""
