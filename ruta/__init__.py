"""Ruta: ruta."""
