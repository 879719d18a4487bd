"""Alert mutation testing (``gameday mutate``): break the alerting on purpose, one small change at a time, on a
copy, and count the breakages the drills catch."""
