"""Analytics: metric definitions computed from conversation events, and reports."""
