"""Stream processing: the pure core (validation, dedup, policies, categories, minutes) and
its I/O shell (a confluent-kafka batch loop hosted by a Faust worker; no Faust agents)."""
