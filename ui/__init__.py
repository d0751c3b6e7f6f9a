"""Ruta: ui."""
