"""The desktop agent: probes, span building, privacy guard, spool and publisher."""
