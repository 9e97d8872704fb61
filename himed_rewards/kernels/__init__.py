"""Numba kernels: integer arrays in, integer arrays out; no Python objects inside.

Public metrics never call a kernel with unvalidated input: the front doors in
``himed_rewards.metrics`` check, tokenize, intern and lay the data out first.
"""
