"""The core every command stands on: the model contract, data, sampling, the comparison,
diagnostics, the pipeline, the caches, outputs and errors."""
