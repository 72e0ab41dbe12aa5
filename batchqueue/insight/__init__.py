"""The Insight API client: one HTTP client, one reply classification, the form, retries and pacing."""
