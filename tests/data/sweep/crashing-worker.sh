#!/bin/sh
# Stands in for einsim's cycle-level worker and dies as a crashing simulation would.
kill -SEGV $$
