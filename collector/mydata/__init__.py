"""The person's own view of what the collector records: "my data" and the tray indicator.

- :mod:`collector.mydata.sentlog`: what left the machine, as it left it (and the pauses);
- :mod:`collector.mydata.view`: the page's document (pure);
- :mod:`collector.mydata.server`: the loopback page inside the running collector, for
  the logged-in person only (token file, uid, Host and Origin checks);
- static/: the page itself (no external assets; rendered with ``textContent``).
"""
