"""Scores of answers: agreement with the human majority (:mod:`.agreement`) and distances between
answer distributions (:mod:`.distribution`). The names below are kept here, free of NumPy, so the
command line can offer them without loading the metrics."""

#: The divergences between a model's and the humans' answer distributions (:func:`.distribution.divergence`).
DIVERGENCES = ("kl", "kl-eq1", "js")
#: S_align's Jensen–Shannon: eq. 5 as printed (the divergence) or the text's "distance" (its square root).
S_ALIGN_JS = ("divergence", "distance")
