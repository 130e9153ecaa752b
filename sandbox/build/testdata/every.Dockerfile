# syntax=docker/dockerfile:1
# escape=`
ARG BASE=stepbox-builtin
FROM ${BASE} AS build
RUN echo one `
    two
COPY --chown=1000:1000 a b /dst/
FROM scratch
CMD ["sh"]
