"""Schedules, in Asia/Taipei like the seed systems' recurring jobs."""
