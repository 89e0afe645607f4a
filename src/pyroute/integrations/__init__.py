"""Integrations with existing helpdesk platforms (served by ``pyroute serve``)."""
