"""Dialogue: turn results and the L1 decision policy."""
