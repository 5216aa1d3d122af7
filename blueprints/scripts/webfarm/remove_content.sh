#!/bin/sh
# Undo of ContentPublished: remove the page this node published.
set -eu
rm -rf site
echo "removed site/ of $MURANO_FLOW_ENTITY"
