"""`python -m kubesim`: serve named simulated clusters until interrupted.

The command-line face of `server.start_clusters_async`: every knob a test can set from
Python (failing images, controller delays, faults) has a flag here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from kubesim.cluster import ControllerTiming
from kubesim.faults import DropMode, Faults
from kubesim.server import start_clusters_async, tune_gc


def parser() -> argparse.ArgumentParser:
    """The command line's parser (`baton kubesim` words its errors as baton's)."""
    p = argparse.ArgumentParser(prog="kubesim", description="Kubernetes API emulator")
    p.add_argument(
        "--cluster",
        action="append",
        dest="clusters",
        metavar="NAME",
        help="a cluster to serve (repeatable; default: one named kubesim)",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--kubeconfig", default=None, help="where to write the kubeconfig")
    p.add_argument(
        "--failing-image",
        action="append",
        default=[],
        metavar="[CLUSTER=]IMAGE_OR_TAG",
        help="an image ('web:2') or tag (':2') whose pods never become ready, "
        "in every cluster or only in the named one ('prod=:2')",
    )
    p.add_argument(
        "--pods",
        action="store_true",
        help="give Deployments ReplicaSets and Pods (more writes, a fuller picture)",
    )
    timing = p.add_argument_group("controller timing (seconds)")
    timing.add_argument("--observe", type=float, default=0.1)
    timing.add_argument("--step", type=float, default=0.5)
    timing.add_argument(
        "--progress-deadline",
        type=float,
        default=None,
        help="default: each Deployment's progressDeadlineSeconds",
    )
    timing.add_argument("--job-duration", type=float, default=1.0)
    timing.add_argument("--nodes", type=int, default=1)
    faults = p.add_argument_group("fault injection")
    faults.add_argument("--latency", type=float, default=0.0)
    faults.add_argument("--jitter", type=float, default=0.0)
    faults.add_argument("--error-rate", type=float, default=0.0, help="share of 500/503")
    faults.add_argument("--throttle-rate", type=float, default=0.0, help="share of 429")
    faults.add_argument("--retry-after", type=int, default=1)
    faults.add_argument("--watch-drop-after", type=float, default=None)
    faults.add_argument(
        "--watch-drop-mode", choices=[m.value for m in DropMode], default=DropMode.END.value
    )
    faults.add_argument("--seed", type=int, default=None)
    return p


async def serve(args: argparse.Namespace) -> None:
    """Run until SIGINT or SIGTERM."""
    timing = ControllerTiming(
        observe=args.observe,
        step=args.step,
        progress_deadline=args.progress_deadline,
        job_duration=args.job_duration,
        nodes=args.nodes,
    )
    faults = Faults(
        latency=args.latency,
        jitter=args.jitter,
        error_rate=args.error_rate,
        throttle_rate=args.throttle_rate,
        retry_after=args.retry_after,
        watch_drop_after=args.watch_drop_after,
        watch_drop_mode=DropMode(args.watch_drop_mode),
        seed=args.seed,
    )
    handle = await start_clusters_async(
        args.clusters or ["kubesim"],
        host=args.host,
        port=args.port,
        kubeconfig_path=args.kubeconfig,
        timing=timing,
        faults=faults,
    )
    for spec in args.failing_image:
        target, _, image = spec.rpartition("=")
        for name, cluster in handle.clusters.items():
            if target in ("", name):
                cluster.fail_image(image)
    for cluster in handle.clusters.values():
        cluster.simulate_pods = args.pods
    for name in handle.clusters:
        print(f"cluster {name}: {handle.url(name)}", flush=True)
    print(f"kubeconfig: {handle.kubeconfig_path}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await handle.aclose()


def main(argv: Sequence[str] | None = None, *, using: argparse.ArgumentParser | None = None) -> int:
    """Entry point: serve the clusters `argv` asks for (parsed by `using`, else `parser()`)."""
    tune_gc()
    asyncio.run(serve((using or parser()).parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
