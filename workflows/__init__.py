"""Ruta: workflows."""
