"""Private helpers shared by every layer: argument validation (one message shape), pytrees, atomic files."""
