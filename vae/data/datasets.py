"""Every fact about a dataset, in one place: file, hash, shape, classes, colours, credit.

Code that needs to know what an image or a class is asks a DatasetSpec; adding a
dataset is one entry here plus its data file under data/.
"""
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[2] / "data"  # the repository's data/

# matplotlib's tab10: distinct, colour-blind-tolerable, and what the app always used for digits
TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
# Tableau 10 (2016): as distinct, and different, so a switch of dataset shows at a glance
TABLEAU10 = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
             "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")


@dataclass(frozen=True)
class DatasetSpec:
    name: str  # the key in DATASETS, in metadata.json and on the command line
    title: str  # how people write it
    file: Path
    content_sha256: str  # over x_train, y_train, x_test, y_test bytes, in that order
    image_shape: tuple  # (rows, cols), one grey channel
    class_names: tuple
    class_colors: tuple  # hex, one per class
    item_noun: str  # "digit": what one image is called in texts
    drawable: bool  # does drawing one with a mouse make sense?
    credit: str  # one line for the sidebar
    licence: str
    n_train: int
    n_test: int
    # How a drawable dataset's items were made from strokes: the ink's longer side scaled to this
    # many pixels, the centre of mass put at the middle (vae.data.drawing follows it for a drawing)
    ink_box: int | None = None
    keras_download: str | None = None  # the keras.datasets module that can fetch a missing file

    @property
    def n_classes(self):
        return len(self.class_names)

    def __post_init__(self):
        if len(self.class_colors) != len(self.class_names):
            raise ValueError(f"{self.name}: {len(self.class_names)} classes but "
                             f"{len(self.class_colors)} colours")
        if self.drawable and not self.ink_box:
            raise ValueError(f"{self.name}: a drawable dataset needs its ink_box")


MNIST = DatasetSpec(
    name="mnist", title="MNIST", file=DATA_DIR / "mnist.npz",
    content_sha256="06b0d1f124c4e5fa796686ade41a9b778edacc8622f2195a352ef479ad44fc16",
    image_shape=(28, 28), class_names=tuple(str(d) for d in range(10)), class_colors=TAB10,
    item_noun="digit", drawable=True,
    credit="MNIST by Yann LeCun, Corinna Cortes and Christopher J. C. Burges (CC BY-SA 3.0)",
    licence="CC BY-SA 3.0", n_train=60000, n_test=10000,
    ink_box=20,  # NIST's digits were fit into 20x20 keeping their aspect, then centred by mass in 28x28
    keras_download="mnist")

FASHION_MNIST = DatasetSpec(
    name="fashion-mnist", title="Fashion-MNIST", file=DATA_DIR / "fashion-mnist.npz",
    content_sha256="ca3ab2a37f845e1b8ae23cab1b51749a3011ba3bf1d9016176d75cbaabac376f",
    image_shape=(28, 28),
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    class_colors=TABLEAU10, item_noun="item", drawable=False,
    credit="Fashion-MNIST by Zalando Research (MIT licence)",
    licence="MIT", n_train=60000, n_test=10000)

DATASETS = {spec.name: spec for spec in (MNIST, FASHION_MNIST)}
DEFAULT_DATASET = MNIST.name


def get_dataset(name_or_spec=None):
    """The spec for a name (or a spec, passed through); None means the default dataset."""
    if isinstance(name_or_spec, DatasetSpec):
        return name_or_spec
    name = DEFAULT_DATASET if name_or_spec is None else name_or_spec
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}") from None
