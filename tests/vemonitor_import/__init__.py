"""Tests of the vemonitor configuration import (plain pytest: no Home Assistant fixture)."""
