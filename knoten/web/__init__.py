"""Web pages served to people: the start page now, the dashboard and join pages later."""
