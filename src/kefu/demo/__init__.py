"""The demo shop: its data files and its generated history."""
