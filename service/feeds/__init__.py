"""Station feeds: HJ 212 receiver, national publish API client, manual laboratory import."""
