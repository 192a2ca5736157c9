"""Systems of agents: who is asked what, and how agents see each other."""
