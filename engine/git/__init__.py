"""Git as the source: mirrors of app repositories, new-commit discovery, trees at a sha.

The only package of the engine that imports GitPython. ``watcher.GitWatcher`` polls
(``run()`` forever, ``poll(app)`` now, ``request_poll(app)`` to wake one app's loop);
``plan.plan_poll`` decides what a poll found; ``mirror.Mirror`` is one app's bare clone;
``credentials.resolve_auth`` turns configured secret references into git's environment.
``engine.releases.build_watcher`` wires a watcher to the event store.
"""
