"""Collective decisions made by systems of agents."""
