"""culturescope: how LLM agents, alone or as multicultural systems, represent human values."""

__version__ = "0.1.0"
