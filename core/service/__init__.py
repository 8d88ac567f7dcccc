"""The resident service: one owner of a library (the window or ``memex serve``) answering the
CLI, MCP and HTTP clients over a channel only the user can open. ``operations`` is what it
answers; ``protocol`` the frames and errors; ``server``/``client`` the local socket."""
