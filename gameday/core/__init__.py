"""The foundation every stage stands on: the clock, durations, the error tree and verdicts, processes, signals."""
