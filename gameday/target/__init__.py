"""The target stage: the protocol a drill speaks to, what readies it, the addresses it may reach, its lock and
ports, the monitoring config rendered for it and the error budget it guards."""
