"""leadlink loaders: land raw Knowlarity and Meta Lead Ads records, and drive the dbt project."""

__version__ = "0.1.0"
