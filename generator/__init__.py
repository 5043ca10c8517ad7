"""The traffic generator: voice calls paced in real time, HTTP mixes, webhook storms and
connection-capacity runs under k6-style load models, measured in HDR histograms."""
