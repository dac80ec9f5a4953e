"""python -m training.titanic [features|train|all]: the Titanic pipelines."""

from __future__ import annotations

from common.backends import feature_store, model_registry
from common.entrypoint import configure_logging, run
from common.settings import TITANIC_SHA256, load_settings
from training.cli import add_options, base_parser, options_from
from training.titanic import pipeline
from training.titanic.pipeline import TitanicOptions


def main() -> int:
    parser = base_parser("titanic", "Download and clean the Titanic passengers, train XGBoost, register it.")
    add_options(parser, TitanicOptions)
    args = parser.parse_args()
    configure_logging()
    settings = load_settings()
    store = feature_store(settings)
    registry = model_registry(settings)
    if args.if_missing and registry.current("titanic"):
        print(f"titanic: version {registry.current('titanic').version} already registered")  # type: ignore[union-attr]
        return 0
    if args.step in {"features", "all"}:
        passengers = pipeline.feature_pipeline(
            settings.data.TITANIC_URL, TITANIC_SHA256, settings.storage.DATA_DIR, store
        )
        print(f"titanic features: {len(passengers)} passengers, survival rate {passengers['survived'].mean():.3f}")
    if args.step in {"train", "all"}:
        options = options_from(args, TitanicOptions)
        bundle, report = pipeline.train(store.read_table(pipeline.TABLE), options)
        version = pipeline.register(registry, bundle, report, options)
        folder = registry.path("titanic", version.version)
        print(f"titanic: {report.summary()}; registered version {version.version} ({folder / 'confusion.png'})")
    return 0


if __name__ == "__main__":
    run(main, "training.titanic")
