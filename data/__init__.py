"""The bundled example data (installed as ``zoo.datasets``; read with ``importlib.resources``)."""
