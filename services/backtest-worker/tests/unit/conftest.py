"""Engine unit tests: make the plain reference backtester importable by the test modules."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
