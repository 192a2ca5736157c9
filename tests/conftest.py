import importlib.util
import sys
from pathlib import Path

# Lets tests import the loop oracle (tests/loop_metrics.py) by name.
sys.path.insert(0, str(Path(__file__).parent))

# The training tests (marked `train`, deselected by default) need the [train] extra: without it they
# are not collected, and `pytest -m train` fails for having no test rather than passing on skips.
if importlib.util.find_spec("trl") is None or importlib.util.find_spec("mergekit") is None:
    collect_ignore = ["test_training.py"]
