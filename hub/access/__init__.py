"""Who may do what: operators and their sessions, API keys, roles and permissions, limits,
and the audit log of every change."""
