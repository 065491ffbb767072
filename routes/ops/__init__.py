"""Running ``serve`` for real: the commands an operator uses around it.

:mod:`.reload` (a new ``config.yaml`` without a restart: ``SIGHUP``,
``reload``), :mod:`.doctor` (the go-live checklist), :mod:`.views` (what
``sessions`` and ``orders`` print, for people or as JSON).
"""
