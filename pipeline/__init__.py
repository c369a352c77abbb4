"""Sort French local-authority initiatives into the barometer domains.

In Python:

    from pipeline import load_model, label_frame
    model = load_model()                       # models/LATEST
    labeled = label_frame(model, frame, ["intitule"])
"""
from pipeline.modeling.predict import label_frame


def load_model(run: str | None = None, config_path: str | None = None):
    """Load a trained model: the latest run, or `run` (an id under models/ or a folder)."""
    from pipeline.config import load_config
    from pipeline.modeling import run_folder

    return run_folder.load_model(load_config(config_path)["paths"]["models"], run)


__all__ = ["label_frame", "load_model"]
__version__ = "0.1.0"
