"""Tamtam services: one package (and one process) each."""
