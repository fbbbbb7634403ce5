"""boost-focal benchmarks: ``python benchmarks/run.py [--quick] [--markdown FILE]``."""
