"""People and providers: accounts with roles, providers owning seminars, sessions, API tokens."""
