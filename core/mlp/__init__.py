"""Problem 1: MNIST (fetched, verified, cached), the bias-free ReLU MLP, its SGD training and the fused step."""

from ._batched import train_mlp_batch as train_mlp_batch
from ._mnist import MNIST as MNIST
from ._mnist import RAW_FILES as RAW_FILES
from ._mnist import MNISTChecksumError as MNISTChecksumError
from ._mnist import MNISTUnavailable as MNISTUnavailable
from ._mnist import default_cache_root as default_cache_root
from ._mnist import load_mnist as load_mnist
from ._mnist import locate_mnist as locate_mnist
from ._mnist import verify_raw_files as verify_raw_files
from ._model import INITS as INITS
from ._model import LayerBalance as LayerBalance
from ._model import MLPConfig as MLPConfig
from ._model import MLPDivergenceError as MLPDivergenceError
from ._model import MLPHistory as MLPHistory
from ._model import build_mlp as build_mlp
from ._model import layer_gradient_norms as layer_gradient_norms
from ._model import parameter_count as parameter_count
from ._step import sgd_step as sgd_step
from ._train import initial_gradient_norms as initial_gradient_norms
from ._train import train_mlp as train_mlp
