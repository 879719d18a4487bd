"""A Kubernetes cluster on this machine, built from Debian's source package, for the tests."""
