"""The two chat sockets: the agent workbench (``agent``) and the buyer widget (``buyer``)."""
