"""Deployment files generated from the one hub list, ``deploy/hubs.toml``.

``python -m vhub.deploy`` writes the NATS configs (``deploy/nats``), ``docker-compose.yml`` and
``shared/hubmap.py``; ``python -m vhub.deploy --check`` exits non-zero when a committed file differs.
"""
