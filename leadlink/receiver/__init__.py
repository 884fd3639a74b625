"""The webhook receiver: Knowlarity pushes and Meta leadgen notifications (`leadlink serve`)."""
