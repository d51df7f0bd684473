"""Config flows of the Redis part: Redis server entries (appConnectors) and Redis output subentries."""

from homeassistant.config_entries import ConfigFlow, ConfigSubentryFlow


class RedisServerFlow(ConfigFlow):
    """Steps of the "Redis server" entries, mixed into the integration's config flow."""


class RedisOutputSubentryFlow(ConfigSubentryFlow):
    """Add or reconfigure a Redis output of a VE.Direct entry."""
