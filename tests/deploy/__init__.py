"""Tests of how baton is deployed: the image, docker compose, the Kubernetes manifests."""
