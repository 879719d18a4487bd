"""What the alert pipeline should do: routes, groups, the pipeline's floor, detection estimates, young windows
and the time scale, worked out from the rules and routes alone."""
