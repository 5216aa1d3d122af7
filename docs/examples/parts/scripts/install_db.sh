#!/bin/sh
echo installing db "$DB_VERSION"
