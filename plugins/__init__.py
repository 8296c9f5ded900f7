"""Tamtam's built-in plugins: social networks (`plugins.networks`) and AI providers (`plugins.ai`)."""
