"""Benchmarks (``make bench``): throughput against the raw producer, state memory, restore and scaling.

Run with ``PYTHONPATH=tests python -m bench``. Nothing here is a test: numbers are reported, never asserted.
"""
