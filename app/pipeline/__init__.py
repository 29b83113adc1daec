"""Business rules for moving candidates through positions (pages, jobs and the API call these)."""
