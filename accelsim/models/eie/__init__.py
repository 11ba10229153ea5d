"""EIE (Han et al., ISCA 2016): the sparse matrix x sparse vector engine, as one model package."""

from .model import (EIE, EIEMatrix, build_matrix, kmeans_share, matrix_from_dense, matrix_from_dump,  # noqa: F401
                    prune_magnitude, run_matrix, synthetic_acts, synthetic_matrix, validate)
