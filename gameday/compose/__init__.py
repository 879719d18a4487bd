"""The lab as containers: ``docker-compose.yml`` as a target, and faults through the Docker Engine API."""
