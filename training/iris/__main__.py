"""python -m training.iris [features|train|all]: the Iris pipelines."""

from __future__ import annotations

from common.backends import feature_store, model_registry
from common.entrypoint import configure_logging, run
from common.settings import load_settings
from training.cli import add_options, base_parser, options_from
from training.iris import pipeline
from training.iris.pipeline import IrisOptions


def main() -> int:
    parser = base_parser("iris", "Store the Iris flowers as features, train a KNN classifier, register it.")
    add_options(parser, IrisOptions)
    args = parser.parse_args()
    configure_logging()
    settings = load_settings()
    store = feature_store(settings)
    registry = model_registry(settings)
    if args.if_missing and registry.current("iris"):
        print(f"iris: version {registry.current('iris').version} already registered")  # type: ignore[union-attr]
        return 0
    if args.step in {"features", "all"}:
        flowers = pipeline.feature_pipeline(store)
        print(f"iris features: {len(flowers)} flowers")
    if args.step in {"train", "all"}:
        options = options_from(args, IrisOptions)
        bundle, report = pipeline.train(store.read_table(pipeline.TABLE), options)
        version = pipeline.register(registry, bundle, report, options)
        folder = registry.path("iris", version.version)
        print(f"iris: {report.summary()}; registered version {version.version} ({folder / 'confusion.png'})")
    return 0


if __name__ == "__main__":
    run(main, "training.iris")
