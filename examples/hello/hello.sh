#!/bin/sh
echo "@GREETING@, ${1:-world}! (built by ${GREETING_FROM:-someone})"
cat /usr/local/share/hello/info
