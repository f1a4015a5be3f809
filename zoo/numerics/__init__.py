"""The numerical methods references rest on: exact forms, exact draws, importance
sampling, EM."""
