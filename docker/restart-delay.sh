#!/bin/sh
# Entrypoint of the gateway and backend containers: start the service at once the first time;
# after a crash (the engine restarts the container), wait the restart delay first, as a restart
# policy with a back-off would. The delay is $RESTART_DELAY seconds, or what /run/gameday/restart-delay
# says when a fault has written it there (a crash that must keep the service down for a set time).
# A stop during the back-off ends it at once: as a pod's PID 1 the shell would otherwise ignore SIGTERM and
# hold its pod in Terminating for the whole grace period.
set -e
trap 'exit 143' TERM INT
if [ -e /run/gameday/started ]; then
    delay="$(cat /run/gameday/restart-delay 2>/dev/null || echo "${RESTART_DELAY:-0}")"
    rm -f /run/gameday/restart-delay
    sleep "$delay" &
    wait $!
fi
mkdir -p /run/gameday && touch /run/gameday/started
date +%s.%N > /run/gameday/service-started    # when the service itself started, after any back-off
exec "$@"
