"""The scenario stage: scenarios and the other config files as data, loaded and checked before anything runs."""
