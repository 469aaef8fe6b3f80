"""Stream processing: pure policy and aggregation functions, and thin Faust agents over them."""
