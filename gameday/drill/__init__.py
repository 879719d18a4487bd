"""The drill stage: the runner and one module per phase, each speaking through the phase context."""
