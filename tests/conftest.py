import sys
from pathlib import Path

# Lets tests import the loop oracle (tests/loop_metrics.py) by name.
sys.path.insert(0, str(Path(__file__).parent))
