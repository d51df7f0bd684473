"""Tests of the VE Monitor integration."""
