"""The long-running service behind `digest serve` and `digest worker`.

- `process`: one service process (web, scheduler, inbound mail listener), its start and
  its graceful stop, and what it tells systemd.
- `jobs`: the scheduled work (fetching with retries, the catch-up after downtime, the
  delivery tick, housekeeping), each job built with the clients it uses, calling the
  pipeline.
- `heartbeats`: what the running service did and when, which `/healthz` reads.
"""
