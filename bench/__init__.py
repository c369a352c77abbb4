"""The benchmark (`make bench`, `python bench/run.py`): see bench/README.md."""
