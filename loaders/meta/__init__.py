"""Meta Lead Ads: the Graph API client (forms, leads, one lead) and the scheduled loader."""
