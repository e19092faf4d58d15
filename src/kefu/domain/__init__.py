"""Plain typed domain objects shared by every layer."""
