"""Workloads: what one iteration of traffic does (a call, an HTTP request, a webhook, a held
connection). base.py holds the protocol every workload implements."""
