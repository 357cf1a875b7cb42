"""HTTP plumbing shared by every connector: retries, circuit breaker, rate limit."""
