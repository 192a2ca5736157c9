import importlib.util
import sys
from pathlib import Path

# Lets tests import what they share from the tests/helpers package (``from helpers.servers import ...``).
sys.path.insert(0, str(Path(__file__).parent))

# The training tests (marked `train`, deselected by default) need the [train] extra: without it they
# are not collected, and `pytest -m train` fails for having no test rather than passing on skips.
if importlib.util.find_spec("trl") is None or importlib.util.find_spec("mergekit") is None:
    collect_ignore = ["methods/cultural_palette/test_training.py"]
