#!/bin/sh
echo "runc: not built (temporary)"
