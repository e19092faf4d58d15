"""Who may do what: console users, sessions, API keys and roles per tenant."""
