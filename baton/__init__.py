"""baton's composition root: the command line, the processes it runs, and the demo.

Where it sits: above every layer. `engine` decides and acts, `projections` reads,
`api` answers HTTP and `kubesim` emulates clusters; only this package puts them together
(`baton.cli` the commands, `baton.service` a running server, `baton.demo` the story), and
no layer below imports it.
"""
