"""Analytics platform for French national exam results (BTS NDRC first)."""
