# Locust workers for a cluster: the stack's image (its Python, the lab's code) with Locust added from wheels
# that the harness downloaded beside this file, installed by pip run from its own wheel (no registry is
# reached from the build). The version is the harness's own: a worker must speak its master's protocol.
ARG BASE
FROM ${BASE}
ARG LOCUST
COPY wheels /tmp/wheels
RUN python3 "$(ls /tmp/wheels/pip-*.whl)/pip" install --quiet --no-index --find-links /tmp/wheels \
        --break-system-packages --no-warn-script-location "locust==${LOCUST}" \
 && rm -rf /tmp/wheels \
 && python3 -m locust --version
