"""Humans in the loop: handoff, the agent desk, tickets."""
