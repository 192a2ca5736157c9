"""System-level analyses of the Beyond-Alignment paper over answer matrices (pure NumPy)."""
