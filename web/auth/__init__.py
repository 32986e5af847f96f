"""Identity for the cabinet and the API: passwords, sessions, login rate limits."""
