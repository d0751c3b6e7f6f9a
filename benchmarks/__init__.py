"""Ruta: benchmarks."""
