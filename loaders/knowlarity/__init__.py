"""Knowlarity: the call-log API client (paging over a live, newest-first list) and its loader."""
