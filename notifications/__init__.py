"""Ruta: notifications."""
