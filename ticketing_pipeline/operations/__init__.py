"""Operator tools: connection checks, webhook registration, dbt builds from the command line."""
