"""Ruta: institutions."""
