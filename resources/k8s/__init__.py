"""Kubernetes support: the charts (render, lint, validate), facts read from manifests or the live
API, and the static coexistence check. The platform itself is resources/platforms/kubernetes.py."""
