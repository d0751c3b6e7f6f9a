"""Ruta: protocols."""
