"""The FiftyOne App layer: operators and the panel. Parses parameters and
calls the SDK; no maths, no torch at import time."""
